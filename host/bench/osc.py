"""`eqbridge bench osc`: round trip of /eqbridge/match (files) and of clip transfer + /eqbridge/match_clips.

A real server is started in a subprocess on 127.0.0.1 (as a DAW would see it) and timed from the first
datagram sent to the ``/eqbridge/done`` received; median and 90th percentile over ``iterations``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from host.bench.report import BenchReport
from host.errors import EqbridgeError, OptionError
from host.osc.client import EqbridgeClient, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_AUDIO = ROOT / "examples" / "audio"
STARTUP_TIMEOUT_S = 180.0


def _clip(path: Path, duration_s: float) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    n = int(round(duration_s * rate))
    return np.resize(mono, n).astype(np.float32), rate  # np.resize repeats the clip to the length


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
        raise OptionError(f"need iterations >= 1 and duration_s > 0, got {iterations}, {duration_s}")
    with tempfile.TemporaryDirectory(prefix="eqbridge-bench-osc-") as tmp:
        allow = Path(tmp)
        track, rate = _clip(EXAMPLE_AUDIO / "track.flac", duration_s)
        reference, _ = _clip(EXAMPLE_AUDIO / "reference.flac", duration_s)
        sf.write(allow / "track.wav", track, rate, subtype="FLOAT")
        sf.write(allow / "reference.wav", reference, rate, subtype="FLOAT")
        extra = ["--plugin", plugin] + (["--checkpoint", str(checkpoint)] if checkpoint else [])
        proc, port = start_server(allow, *extra, cwd=ROOT, timeout_s=STARTUP_TIMEOUT_S)
        try:
            client = EqbridgeClient(port=port)
            pings = [client.ping() for _ in range(20)]
            files, clips, settings = [], [], []
            for i in range(warmup + iterations):
                start = time.perf_counter()
                result = client.match_files(i, allow / "track.wav", allow / "reference.wav")
                _check(result)
                if i >= warmup:
                    files.append(time.perf_counter() - start)
                    settings.append(result["settings_at"] - start)
            for i in range(warmup + iterations):
                rid = 10_000 + i
                start = time.perf_counter()
                _check(client.match_clips(rid, track, reference, rate))
                if i >= warmup:
                    clips.append(time.perf_counter() - start)
        finally:
            stop_server(proc)
    return {"plugin": plugin, "duration_s": duration_s, "iterations": iterations,
            "ping_ms": statistics.median(1000.0 * t for t in pings),
            "files": _summary(files), "files_to_settings": _summary(settings), "clips": _summary(clips), "clip_bytes": 4 * (len(track) + len(reference))}


def _check(result: dict) -> None:
    if "error" in result:
        raise EqbridgeError(f"server error for request {result['request_id']}: {result['error']}")


def osc_report(result: dict) -> BenchReport:
    rows = [("ping", result["ping_ms"], result["ping_ms"], 1.0)]
    rows += [(kind.replace("_", " "), result[kind]["median_ms"], result[kind]["p90_ms"],
              result[kind]["median_ms"] / result["ping_ms"]) for kind in ("files", "files_to_settings", "clips")]
    return BenchReport(f"bench osc: {result['plugin']}, {result['duration_s']:g} s clips, median of "
                       f"{result['iterations']}", ("round trip", "median ms", "p90 ms", "median / ping"),
                       tuple(rows), result)
