"""`eqbridge bench osc`: round trip of /eqbridge/match (files) and of clip transfer + /eqbridge/match_clips.

A real server is started in a subprocess on 127.0.0.1 (as a DAW would see it) and timed from the first
datagram sent to the ``/eqbridge/done`` received; median and 90th percentile over ``iterations``.
Mount with :func:`add_arguments` and :func:`run` (e.g. as ``eqbridge bench osc``).
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from pythonosc.osc_message_builder import build_msg
from pythonosc.osc_packet import OscPacket

from host.commands.serve import wait_until_ready
from host.errors import EqbridgeError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_AUDIO = ROOT / "examples" / "audio"
CHUNK_FRAMES = 2048
WINDOW_CHUNKS = 16
STARTUP_TIMEOUT_S = 180.0


class _Client:
    def __init__(self, port: int, timeout_s: float = 30.0) -> None:
        self.server = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout_s)

    def send(self, address: str, *args) -> None:
        self.sock.sendto(build_msg(address, list(args)).dgram, self.server)

    def until(self, address: str, request_id: int | None = None) -> None:
        """Wait for ``address`` (for ``request_id``); records when /eqbridge/settings passed by."""
        self.settings_at = None
        while True:
            data, _ = self.sock.recvfrom(65536)
            for timed in OscPacket(data).messages:
                msg = timed.message
                if msg.address == "/eqbridge/error" and (request_id is None or msg.params[0] == request_id):
                    raise EqbridgeError(f"server error for request {msg.params[0]}: {msg.params[1]}")
                if msg.address == "/eqbridge/settings":
                    self.settings_at = time.perf_counter()
                if msg.address == address and (request_id is None or msg.params[0] == request_id):
                    return

    def send_clip(self, request_id: int, role: str, audio: np.ndarray, sample_rate: int) -> None:
        data = np.ascontiguousarray(audio, dtype="<f4").tobytes()
        step = CHUNK_FRAMES * 4
        chunks = [data[i:i + step] for i in range(0, len(data), step)]
        self.send("/eqbridge/clip/begin", request_id, role, sample_rate, 1, len(audio))
        for seq, blob in enumerate(chunks):
            self.send("/eqbridge/clip/chunk", request_id, seq, blob)
            if seq % WINDOW_CHUNKS == WINDOW_CHUNKS - 1:
                self.send("/eqbridge/ping")
                self.until("/eqbridge/pong")
        self.send("/eqbridge/clip/end", request_id, len(chunks))


def _clip(path: Path, duration_s: float) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    n = int(round(duration_s * rate))
    return np.resize(mono, n).astype(np.float32), rate  # np.resize repeats the clip to the length


def _start_server(allow_dir: Path, plugin: str, checkpoint: Path | None) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "host.commands.serve", "--port", "0", "--reply-port", "0",
           "--allow-dir", str(allow_dir), "--plugin", plugin]
    if checkpoint is not None:
        cmd += ["--checkpoint", str(checkpoint)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    return proc, wait_until_ready(proc, STARTUP_TIMEOUT_S)


def _summary(times_s: list[float]) -> dict[str, float]:
    ms = sorted(1000.0 * t for t in times_s)
    return {"median_ms": statistics.median(ms), "p90_ms": ms[int(0.9 * (len(ms) - 1))],
            "min_ms": ms[0], "max_ms": ms[-1]}


def bench_osc(plugin: str = "faust-peq", duration_s: float = 10.0, iterations: int = 20,
              checkpoint: str | Path | None = None, warmup: int = 2) -> dict:
    """Round trips on loopback for ``duration_s`` clips, ``iterations`` times each.

    Returns a dict: ``files`` and ``clips`` (median_ms, p90_ms, min_ms, max_ms), ``ping_ms`` (median),
    ``clip_bytes`` (both clips), and the settings (duration_s, iterations, plugin).
    Raises EqbridgeError when the server does not start or answers an error.
    """
    if iterations < 1 or duration_s <= 0:
        raise EqbridgeError(f"need iterations >= 1 and duration_s > 0, got {iterations}, {duration_s}")
    with tempfile.TemporaryDirectory(prefix="eqbridge-bench-osc-") as tmp:
        allow = Path(tmp)
        track, rate = _clip(EXAMPLE_AUDIO / "track.flac", duration_s)
        reference, _ = _clip(EXAMPLE_AUDIO / "reference.flac", duration_s)
        sf.write(allow / "track.wav", track, rate, subtype="FLOAT")
        sf.write(allow / "reference.wav", reference, rate, subtype="FLOAT")
        proc, port = _start_server(allow, plugin, Path(checkpoint) if checkpoint else None)
        try:
            client = _Client(port)
            pings = []
            for _ in range(20):
                start = time.perf_counter()
                client.send("/eqbridge/ping")
                client.until("/eqbridge/pong")
                pings.append(time.perf_counter() - start)
            files, clips, settings = [], [], []
            for i in range(warmup + iterations):
                start = time.perf_counter()
                client.send("/eqbridge/match", i, str(allow / "track.wav"), str(allow / "reference.wav"))
                client.until("/eqbridge/done", i)
                if i >= warmup:
                    files.append(time.perf_counter() - start)
                    settings.append(client.settings_at - start)
            for i in range(warmup + iterations):
                rid = 10_000 + i
                start = time.perf_counter()
                client.send_clip(rid, "track", track, rate)
                client.send_clip(rid, "reference", reference, rate)
                client.send("/eqbridge/match_clips", rid)
                client.until("/eqbridge/done", rid)
                if i >= warmup:
                    clips.append(time.perf_counter() - start)
        finally:
            proc.terminate()
            proc.wait(10)
    return {"plugin": plugin, "duration_s": duration_s, "iterations": iterations,
            "ping_ms": statistics.median(1000.0 * t for t in pings),
            "files": _summary(files), "files_to_settings": _summary(settings), "clips": _summary(clips), "clip_bytes": 4 * (len(track) + len(reference))}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", default="faust-peq")
    parser.add_argument("--duration-seconds", type=float, default=10.0, help="length of track and reference")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--checkpoint", help="model file (default presets/checkpoints/<plugin>.pt)")
    parser.add_argument("--json", help="also write the figures to this JSON file")


def run(args: argparse.Namespace) -> int:
    result = bench_osc(args.plugin, args.duration_seconds, args.iterations, args.checkpoint)
    log.info("OSC round trip, %.0f s clips, median of %d (ping %.2f ms):", result["duration_s"],
             result["iterations"], result["ping_ms"])
    for kind in ("files", "files_to_settings", "clips"):
        r = result[kind]
        log.info("  %-17s median %7.1f ms  p90 %7.1f ms  (min %.1f, max %.1f)", kind, r["median_ms"], r["p90_ms"],
                 r["min_ms"], r["max_ms"])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    _parser = argparse.ArgumentParser(prog="eqbridge bench osc", description=__doc__)
    add_arguments(_parser)
    sys.exit(run(_parser.parse_args()))
