"""`eqbridge bench apply`: stems/s and real-time factor of `eqbridge apply` next to raw DawDreamer rendering.

Both figures come from the same run on the same machine: raw rendering of every stem through one
in-process PluginHost (plugin already loaded), then `apply_stems` end to end (worker start-up, model
load, prediction, render, file writes, PNG, report) for each worker count, into a fresh folder.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from host.bench.report import BenchReport
from host.matching.apply import ApplyConfig, apply_stems
from model.profiles import load_profile

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples" / "audio"


def make_bench_stems(folder: Path, n_stems: int, stem_s: float, sample_rate: int = 44100) -> list[Path]:
    """``n_stems`` stereo 24-bit WAV stems of ``stem_s`` seconds from the bundled track (tiled, shifted per
    stem and channel, so no two channels are equal)."""
    track, rate = sf.read(EXAMPLES_DIR / "track.flac", dtype="float32", always_2d=True)
    mono = track.mean(axis=1)
    if rate != sample_rate:
        import soxr

        mono = soxr.resample(mono, rate, sample_rate).astype(np.float32)
    n = int(round(stem_s * sample_rate))
    tiled = np.tile(mono, n // len(mono) + 2)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_stems):
        shift = (i * sample_rate) // 3
        left = tiled[shift:shift + n]
        right = tiled[shift + sample_rate // 7:shift + sample_rate // 7 + n]
        stereo = np.stack([left, 0.8 * right], axis=1) * (0.5 + 0.04 * i)  # (samples, 2)
        path = folder / f"stem{i:02d}.wav"
        sf.write(path, stereo, sample_rate, subtype="PCM_24")
        paths.append(path)
    return paths


def _rates(stems: int, audio_s: float, seconds: float) -> dict[str, float]:
    return {"seconds": seconds, "stems_per_s": stems / seconds, "rtf": seconds / audio_s,
            "x_realtime": audio_s / seconds}


def bench_apply(plugin: str = "faust-peq", n_stems: int = 10, stem_s: float = 30.0,
                workers: Sequence[int] = (1, 2), sample_rate: int = 44100, reference: Path | str | None = None,
                checkpoint: Path | str | None = None, work_dir: Path | str | None = None) -> dict:
    """Time `eqbridge apply` on ``n_stems`` stereo stems against raw DawDreamer rendering of the same plugin.

    Returns a dict: ``raw`` and ``apply[<workers>]`` each with ``seconds``, ``stems_per_s``, ``rtf``
    (wall seconds per audio second; below 1 is faster than real time) and ``x_realtime`` (its inverse);
    ``apply_over_raw[<workers>]``: apply's wall time over raw rendering's.
    """
    from host.plugins.render import PluginHost

    profile = load_profile(plugin)
    reference = Path(reference) if reference else EXAMPLES_DIR / "reference.flac"
    with tempfile.TemporaryDirectory(prefix="eqbridge-bench-apply-", dir=work_dir) as tmp:
        root = Path(tmp)
        stems = make_bench_stems(root / "stems", n_stems, stem_s, sample_rate)
        audio_s = n_stems * stem_s
        host = PluginHost(profile, sample_rate)
        values = profile.default_values()
        start = time.perf_counter()
        for stem in stems:
            data, _ = sf.read(stem, dtype="float32", always_2d=True)
            host.render(np.ascontiguousarray(data.T), values)  # (2, samples): the plugin runs once per channel
        raw = _rates(n_stems, audio_s, time.perf_counter() - start)
        log.info("raw DawDreamer: %.2f stems/s", raw["stems_per_s"])
        applied: dict[str, dict[str, float]] = {}
        for w in workers:
            start = time.perf_counter()
            summary = apply_stems(reference, root / "stems", root / f"out-{w}",
                                  ApplyConfig(plugin=plugin, checkpoint=str(checkpoint) if checkpoint else None),
                                  workers=w, progress=False)
            if summary.counts["done"] != n_stems:
                raise RuntimeError(f"bench apply: only {summary.counts['done']} of {n_stems} stems rendered")
            applied[str(w)] = _rates(n_stems, audio_s, time.perf_counter() - start)
            log.info("apply, %d worker(s): %.2f stems/s", w, applied[str(w)]["stems_per_s"])
    return {"plugin": plugin, "stems": n_stems, "stem_s": stem_s, "channels": 2, "sample_rate": sample_rate,
            "raw": raw, "apply": applied,
            "apply_over_raw": {w: a["seconds"] / raw["seconds"] for w, a in applied.items()}}


def apply_report(result: dict) -> BenchReport:
    rows = [("raw DawDreamer, 1 process", result["raw"]["stems_per_s"], result["raw"]["x_realtime"], 1.0)]
    rows += [(f"apply, {w} worker(s)", a["stems_per_s"], a["x_realtime"], result["apply_over_raw"][w])
             for w, a in result["apply"].items()]
    return BenchReport(f"bench apply: {result['plugin']}, {result['stems']} stereo stems of {result['stem_s']:g} s "
                       f"at {result['sample_rate']} Hz", ("what", "stems/s", "x real time", "time / raw's"),
                       tuple(rows), result)
