"""The one OSC client of eqbridge's protocol: what the example DAW client, the benchmark and the tests use.

Light on purpose (python-osc, numpy and the standard library) so that a DAW script can run it. One UDP
socket sends requests to the server and receives its replies; :func:`start_server` runs ``eqbridge serve``
in a subprocess on a free port and reads the port from its ready line.
"""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg
from pythonosc.osc_packet import OscPacket

from host.errors import EqbridgeError
from host.osc.addresses import (AUTOMATION, CHANNEL_AUTOMATION, CHANNEL_NORMALIZED, CHANNEL_SETTINGS, CLIP_BEGIN,
                                CLIP_CHUNK, CLIP_END, CLIP_MISSING, DONE, ERROR, MATCH, MATCH_CLIPS, MATCH_CLIPS_MULTI,
                                MATCH_MULTI, NORMALIZED, PING, PONG, READY_LINE, SETTINGS)

log = logging.getLogger(__name__)

CHUNK_FRAMES = 2048   # 2048 mono float32 frames = 8 KB: one UDP datagram anywhere
WINDOW_CHUNKS = 16    # after this many chunks, wait for a pong: flow control, no server buffer overrun
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
MAX_RESENDS = 3


class EqbridgeClient:
    """One UDP socket talking to an eqbridge server; replies read per request id.

    ``reply_port`` 0 listens on the port it sends from (a server started with ``--reply-port 0``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9000, reply_port: int = 0, timeout_s: float = 30.0,
                 sock: socket.socket | None = None) -> None:
        self.server = (host, port)
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        if sock is None:
            self.sock.bind(("127.0.0.1" if host in ("127.0.0.1", "localhost") else "0.0.0.0", reply_port))
        self.sock.settimeout(timeout_s)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def send(self, address: str, *args: object) -> None:
        self.sock.sendto(build_msg(address, list(args)).dgram, self.server)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def receive(self) -> list[OscMessage]:
        """The messages of the next datagram (a bundle gives several)."""
        data, _ = self.sock.recvfrom(65536)
        return parse_datagram(data)

    def until(self, predicate: Callable[[OscMessage], bool]) -> list[OscMessage]:
        """Every message received up to and including the first one matching ``predicate``."""
        got: list[OscMessage] = []
        while True:
            for msg in self.receive():
                got.append(msg)
                if predicate(msg):
                    return got

    def until_done(self, request_id: int) -> list[OscMessage]:
        """Messages up to ``/eqbridge/done`` or ``/eqbridge/error`` for ``request_id``."""
        return self.until(lambda m: m.address in (DONE, ERROR) and bool(m.params) and m.params[0] == request_id)

    def until_all_done(self, request_ids: set[int]) -> list[OscMessage]:
        got: list[OscMessage] = []
        left = set(request_ids)
        while left:
            for msg in self.receive():
                got.append(msg)
                if msg.address in (DONE, ERROR) and msg.params:
                    left.discard(msg.params[0])
        return got

    def ping(self) -> float:
        """Round trip of /eqbridge/ping in seconds (also: the server has handled all sent before)."""
        start = time.perf_counter()
        self.send(PING)
        self.until(lambda m: m.address == PONG)
        return time.perf_counter() - start

    def send_clip(self, request_id: int, role: str, audio: np.ndarray, sample_rate: int,
                  skip: Sequence[int] = (), repeat: Sequence[int] = ()) -> int:
        """Send one clip (frames,) or (frames, channels) in float32 chunks, then ``/clip/end``; returns the
        number of chunks. ``skip`` and ``repeat`` leave chunks out or send them twice (to test reassembly)."""
        chunks, frames, channels = clip_chunks(audio)
        self.send(CLIP_BEGIN, request_id, role, int(sample_rate), channels, frames)
        for seq, blob in enumerate(chunks):
            if seq not in skip:
                self.send(CLIP_CHUNK, request_id, seq, blob)
            if seq in repeat:
                self.send(CLIP_CHUNK, request_id, seq, blob)
            if seq % WINDOW_CHUNKS == WINDOW_CHUNKS - 1:
                self.ping()
        self.send(CLIP_END, request_id, len(chunks))
        return len(chunks)

    def send_clip_reliably(self, request_id: int, role: str, audio: np.ndarray, sample_rate: int) -> None:
        """:meth:`send_clip`, then resend the chunks the server reports missing (at most MAX_RESENDS times).

        Raises:
            EqbridgeError: the server refused the clip, or chunks are still missing after the resends.
        """
        self.send_clip(request_id, role, audio, sample_rate)
        chunks = clip_chunks(audio)[0]
        for _ in range(MAX_RESENDS):
            self.send(PING)
            missing: list[int] = []
            for m in self.until(lambda m: m.address == PONG):
                if m.address == CLIP_MISSING and m.params[0] == request_id:
                    missing = list(m.params[2:])
                elif m.address == ERROR and m.params[0] == request_id and "missing" not in m.params[1]:
                    raise EqbridgeError(m.params[1])
            if not missing:
                return
            log.info("resending %d missing chunk(s) of %s", len(missing), role)
            for seq in missing:
                self.send(CLIP_CHUNK, request_id, seq, chunks[seq])
            self.send(CLIP_END, request_id, len(chunks))
        raise EqbridgeError(f"clip {role}: chunks still missing after {MAX_RESENDS} resends")

    def wait_result(self, request_id: int) -> dict:
        """Collect the replies of a match until done or error: settings (and ``settings_at``, the
        perf_counter time they arrived), normalized, automation, error; a mid-side or left-right match's
        replies go to ``channels``: channel name -> {settings, normalized, automation}."""
        result: dict = {"request_id": request_id, "settings": {}, "normalized": {}, "automation": {}, "channels": {}}

        def channel(name: str) -> dict:
            return result["channels"].setdefault(name, {"settings": {}, "normalized": {}, "automation": {}})

        while True:
            for msg in self.receive():
                p = msg.params
                if not p or p[0] != request_id:
                    continue
                if msg.address == SETTINGS:
                    result["settings"] = dict(zip(p[1::2], p[2::2]))
                    result["settings_at"] = time.perf_counter()
                elif msg.address == NORMALIZED:
                    result["normalized"] = {n: {"index": i, "value": v} for n, i, v in zip(p[1::3], p[2::3], p[3::3])}
                elif msg.address == AUTOMATION:
                    result["automation"][p[1]] = list(zip(p[2::2], p[3::2]))
                elif msg.address == CHANNEL_SETTINGS:
                    channel(p[1])["settings"] = dict(zip(p[2::2], p[3::2]))
                    result["settings_at"] = time.perf_counter()
                elif msg.address == CHANNEL_NORMALIZED:
                    channel(p[1])["normalized"] = {n: {"index": i, "value": v}
                                                   for n, i, v in zip(p[2::3], p[3::3], p[4::3])}
                elif msg.address == CHANNEL_AUTOMATION:
                    channel(p[1])["automation"][p[2]] = list(zip(p[3::2], p[4::2]))
                elif msg.address == ERROR:
                    result["error"] = p[1]
                    return result
                elif msg.address == DONE:
                    return result

    def match_files(self, request_id: int, track: Path | str, reference: Path | str,
                    refine_s: float | None = None) -> dict:
        args: list[object] = [request_id, str(Path(track).resolve()), str(Path(reference).resolve())]
        self.send(MATCH, *(args + ([float(refine_s)] if refine_s is not None else [])))
        return self.wait_result(request_id)

    def match_multi(self, request_id: int, track: Path | str, references: Sequence[Path | str],
                    weights: Sequence[float] | None = None, stereo: str = "link", link_percent: float = 0.0,
                    range_hz: tuple[float, float] | None = None) -> dict:
        """``/eqbridge/match_multi``: a stereo mode, a link percent, a range and several weighted references."""
        args = _multi_options(request_id, stereo, link_percent, range_hz) + [str(Path(track).resolve())]
        for ref, weight in zip(references, weights or [1.0] * len(references)):
            args += [str(Path(ref).resolve()), float(weight)]
        self.send(MATCH_MULTI, *args)
        return self.wait_result(request_id)

    def match_clips_multi(self, request_id: int, track: np.ndarray, references: Sequence[np.ndarray],
                          sample_rate: int, weights: Sequence[float] | None = None, stereo: str = "link",
                          link_percent: float = 0.0, range_hz: tuple[float, float] | None = None) -> dict:
        """:meth:`match_multi` on audio sent over OSC (a DAW that cannot share files): the track, then each
        reference as ``reference1``, ``reference2``, ..., then ``/eqbridge/match_clips_multi`` (no weights: equal).
        Arrays are (frames,) or (frames, channels), all at ``sample_rate``; mid-side and left-right need two
        channels. Raises EqbridgeError as :meth:`send_clip_reliably`."""
        self.send_clip_reliably(request_id, "track", track, sample_rate)
        for k, reference in enumerate(references, start=1):
            self.send_clip_reliably(request_id, f"reference{k}", reference, sample_rate)
        self.send(MATCH_CLIPS_MULTI, *_multi_options(request_id, stereo, link_percent, range_hz),
                  *[float(w) for w in weights or ()])
        return self.wait_result(request_id)

    def match_clips(self, request_id: int, track: np.ndarray, reference: np.ndarray, sample_rate: int) -> dict:
        self.send_clip_reliably(request_id, "track", track, sample_rate)
        self.send_clip_reliably(request_id, "reference", reference, sample_rate)
        self.send(MATCH_CLIPS, request_id)
        return self.wait_result(request_id)


def _multi_options(request_id: int, stereo: str, link_percent: float,
                   range_hz: tuple[float, float] | None) -> list[object]:
    """The arguments match_multi and match_clips_multi begin with: id, stereo, link percent, low and high Hz."""
    low, high = range_hz or (0.0, 0.0)
    return [request_id, stereo, float(link_percent), float(low), float(high)]


def parse_datagram(data: bytes) -> list[OscMessage]:
    """The messages of one datagram. A message whose address does not start with '/' is read too: Ardour
    answers ``/strip/list`` with ``#reply`` messages, which python-osc's packet parser refuses."""
    if data.startswith(b"#reply"):
        return [OscMessage(data)]
    return [timed.message for timed in OscPacket(data).messages]


def clip_chunks(audio: np.ndarray) -> tuple[list[bytes], int, int]:
    """(little-endian float32 chunks of CHUNK_FRAMES frames, frames, channels) of (frames,) or (frames, channels)."""
    audio = audio if audio.ndim == 2 else audio[:, None]
    frames, channels = audio.shape
    data = np.ascontiguousarray(audio, dtype="<f4").tobytes()
    step = CHUNK_FRAMES * 4 * channels
    return [data[i:i + step] for i in range(0, len(data), step)], frames, channels


def serve_command(allow_dir: Path | str, *extra: str, reply_port: int = 0) -> list[str]:
    """The command line of an ``eqbridge serve`` on a free port (its ready line names the port)."""
    return [sys.executable, "-m", "host.cli", "serve", "--port", "0", "--reply-port", str(reply_port),
            "--allow-dir", str(allow_dir), *extra]


def wait_until_ready(proc: subprocess.Popen, timeout_s: float = 120.0) -> int:
    """The UDP port of a ``serve`` subprocess (started with ``stderr=PIPE, text=True``), read from its
    ready line; the rest of its log is drained in the background so the server never blocks on it.

    Raises:
        EqbridgeError: the server exited or did not get ready in time (the message ends with its log).
    """
    pattern = re.compile(READY_LINE.replace("%d", r"(\d+)"))
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        found = pattern.search(line)
        if found:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return int(found.group(1))
    proc.kill()
    raise EqbridgeError("the OSC server did not start:\n" + "".join(lines[-20:]))


def start_server(allow_dir: Path | str, *extra: str, reply_port: int = 0, cwd: Path | None = None,
                 timeout_s: float = 120.0) -> tuple[subprocess.Popen, int]:
    """Start ``eqbridge serve`` in a subprocess; returns it and the port it listens on."""
    proc = subprocess.Popen(serve_command(allow_dir, *extra, reply_port=reply_port), cwd=cwd,
                            stderr=subprocess.PIPE, text=True)
    return proc, wait_until_ready(proc, timeout_s)


def stop_server(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
