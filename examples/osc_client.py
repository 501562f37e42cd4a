"""A DAW-side client for `eqbridge serve`: send two bounced files (or two clips), print the reply.

Needs only python-osc, numpy and soundfile, so a DAW script can call it with any Python 3.10+:

    python examples/osc_client.py files /abs/bounces/track.wav /abs/bounces/reference.wav
    python examples/osc_client.py clips track.wav reference.wav --start 12.5 --length 10
    python examples/osc_client.py files ... --reply-port 9001 --json result.json
    python examples/osc_client.py clips t.wav r.wav --lines out.txt   # for examples/reaper_eqbridge.lua

``files`` sends paths (they must lie in a folder the server was started with ``--allow-dir``);
``clips`` sends the audio itself in float32 chunks (for a DAW that cannot share files). With
``--reply-port 0`` (the default here) the client listens on the port it sends from, which suits a
server started with ``--reply-port 0``; otherwise it listens on the given port (the server's
``--reply-port``, 9001 by default).
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from pythonosc.osc_message_builder import build_msg
from pythonosc.osc_packet import OscPacket

log = logging.getLogger("eqbridge-client")
CHUNK_FRAMES = 2048   # 2048 mono float32 frames = 8 KB: one UDP datagram anywhere
WINDOW_CHUNKS = 16    # after this many chunks, wait for a pong: simple flow control, no server buffer overrun


class EqbridgeClient:
    """One UDP socket talking to an eqbridge server; replies collected per request id."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9000, reply_port: int = 0, timeout_s: float = 30.0):
        self.server = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(("0.0.0.0" if host not in ("127.0.0.1", "localhost") else "127.0.0.1", reply_port))
        self.sock.settimeout(timeout_s)

    def send(self, address: str, *args) -> None:
        self.sock.sendto(build_msg(address, list(args)).dgram, self.server)

    def receive(self) -> list:
        data, _ = self.sock.recvfrom(65536)
        return [timed.message for timed in OscPacket(data).messages]

    def ping(self) -> float:
        """Round trip of /eqbridge/ping in seconds."""
        start = time.perf_counter()
        self.send("/eqbridge/ping")
        while not any(m.address == "/eqbridge/pong" for m in self.receive()):
            pass
        return time.perf_counter() - start

    def wait_result(self, request_id: int) -> dict:
        """Collect replies until /eqbridge/done or /eqbridge/error for ``request_id``."""
        result: dict = {"request_id": request_id, "settings": {}, "normalized": {}, "automation": {}}
        while True:
            for msg in self.receive():
                p = msg.params
                if not p or p[0] != request_id:
                    continue
                if msg.address == "/eqbridge/settings":
                    result["settings"] = dict(zip(p[1::2], p[2::2]))
                elif msg.address == "/eqbridge/normalized":
                    result["normalized"] = {n: {"index": i, "value": v} for n, i, v in zip(p[1::3], p[2::3], p[3::3])}
                elif msg.address == "/eqbridge/automation":
                    result["automation"][p[1]] = list(zip(p[2::2], p[3::2]))
                elif msg.address == "/eqbridge/clip/missing":
                    result.setdefault("missing", {})[p[1]] = list(p[2:])
                elif msg.address == "/eqbridge/error":
                    result["error"] = p[1]
                    return result
                elif msg.address == "/eqbridge/done":
                    return result

    def match_files(self, request_id: int, track: Path, reference: Path) -> dict:
        self.send("/eqbridge/match", request_id, str(Path(track).resolve()), str(Path(reference).resolve()))
        return self.wait_result(request_id)

    def send_clip(self, request_id: int, role: str, audio: np.ndarray, sample_rate: int) -> None:
        """Send one clip (frames,) or (frames, channels); resend chunks the server reports missing."""
        audio = audio if audio.ndim == 2 else audio[:, None]
        frames, channels = audio.shape
        data = np.ascontiguousarray(audio, dtype="<f4").tobytes()
        step = CHUNK_FRAMES * 4 * channels
        chunks = [data[i:i + step] for i in range(0, len(data), step)]
        self.send("/eqbridge/clip/begin", request_id, role, int(sample_rate), channels, frames)
        for seq, blob in enumerate(chunks):
            self.send("/eqbridge/clip/chunk", request_id, seq, blob)
            if seq % WINDOW_CHUNKS == WINDOW_CHUNKS - 1:
                self.ping()
        for _ in range(3):
            self.send("/eqbridge/clip/end", request_id, len(chunks))
            self.send("/eqbridge/ping")
            missing: list[int] = []
            while True:
                msgs = self.receive()
                for m in msgs:
                    if m.address == "/eqbridge/clip/missing" and m.params[0] == request_id:
                        missing = list(m.params[2:])
                    elif m.address == "/eqbridge/error" and m.params[0] == request_id and "missing" not in m.params[1]:
                        raise RuntimeError(m.params[1])
                if any(m.address == "/eqbridge/pong" for m in msgs):
                    break
            if not missing:
                return
            log.info("resending %d missing chunk(s) of %s", len(missing), role)
            for seq in missing:
                self.send("/eqbridge/clip/chunk", request_id, seq, chunks[seq])
        raise RuntimeError(f"clip {role}: chunks still missing after 3 resends")

    def match_clips(self, request_id: int, track: np.ndarray, reference: np.ndarray, sample_rate: int) -> dict:
        self.send_clip(request_id, "track", track, sample_rate)
        self.send_clip(request_id, "reference", reference, sample_rate)
        self.send("/eqbridge/match_clips", request_id)
        return self.wait_result(request_id)


def read_excerpt(path: Path, start_s: float, length_s: float | None) -> tuple[np.ndarray, int]:
    info = sf.info(str(path))
    start = int(round(start_s * info.samplerate))
    frames = -1 if length_s is None else int(round(length_s * info.samplerate))
    audio, rate = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    return audio[:, :2], rate


def print_result(result: dict) -> None:
    if "error" in result:
        log.error("request %d: %s", result["request_id"], result["error"])
        return
    for name, value in result["settings"].items():
        norm = result["normalized"].get(name, {})
        log.info("%-16s %10.3f   plugin param %3s = %.4f   automation points: %d", name, value,
                 norm.get("index"), norm.get("value", float("nan")), len(result["automation"].get(name, [])))


def write_lines(result: dict, path: Path) -> None:
    """A line format a DAW script parses without JSON: ``param <index> <normalized>`` per parameter,
    ``point <index> <time_s> <normalized>`` per automation point, or ``error -1 <message>``."""
    if "error" in result:
        lines = [f"error -1 {result['error']}"]
    else:
        lines = [f"param {n['index']} {n['value']:.6f}" for n in result["normalized"].values()]
        for name, points in result["automation"].items():
            index = result["normalized"].get(name, {}).get("index", -1)
            lines += [f"point {index} {t:.4f} {v:.6f}" for t, v in points]
    Path(path).write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("files", "clips", "ping"))
    parser.add_argument("track", nargs="?")
    parser.add_argument("reference", nargs="?")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--reply-port", type=int, default=0, help="0: listen on the sending port")
    parser.add_argument("--request-id", type=int, default=1)
    parser.add_argument("--start", type=float, default=0.0, help="clips: seconds into the track file")
    parser.add_argument("--length", type=float, help="clips: seconds of the track file to send")
    parser.add_argument("--reference-start", type=float, default=0.0)
    parser.add_argument("--reference-length", type=float)
    parser.add_argument("--json", help="also write the result to this JSON file")
    parser.add_argument("--lines", help="also write 'param'/'point' lines for a DAW script (reaper_eqbridge.lua)")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    client = EqbridgeClient(args.host, args.port, args.reply_port, args.timeout)
    if args.mode == "ping":
        log.info("pong after %.1f ms", 1000 * client.ping())
        return 0
    if not (args.track and args.reference):
        parser.error("files and clips need TRACK and REFERENCE")
    start = time.perf_counter()
    if args.mode == "files":
        result = client.match_files(args.request_id, Path(args.track), Path(args.reference))
    else:
        track, rate = read_excerpt(Path(args.track), args.start, args.length)
        reference, ref_rate = read_excerpt(Path(args.reference), args.reference_start, args.reference_length)
        if ref_rate != rate:
            parser.error(f"track ({rate} Hz) and reference ({ref_rate} Hz) must share a sample rate for clips")
        result = client.match_clips(args.request_id, track, reference, rate)
    result["round_trip_s"] = time.perf_counter() - start
    print_result(result)
    log.info("round trip %.1f ms", 1000 * result["round_trip_s"])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if args.lines:
        write_lines(result, Path(args.lines))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
