"""`eqbridge bench predict`: time the prediction on a 10 s track against a 10 s reference.

Two rows, timed alternately in one run: the paper's classifier (``model.predict``: features + network), and
the curve model as the pipeline runs it (``model.predict_curve``: statistics + network, then the profile's fit
in host.matching.curve_fit), when the curve model is installed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from host.bench.report import BenchReport
from model.profiles import CURVE_CHECKPOINT, load_profile

CURVE_MIN_DURATION_S = 4.0  # the bursts hold half their duration of sound; the curve model needs 1 s of it


def _inputs(n_samples: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded noise in 4 Hz bursts (steady noise is refused as a reference) and a darker reference."""
    rng = np.random.default_rng(0)
    gate = (np.sin(2.0 * np.pi * 4.0 * np.arange(n_samples) / sample_rate) > 0).astype(np.float32)
    track = (0.1 * rng.standard_normal(n_samples) * gate).astype(np.float32)
    reference = 0.1 * np.cumsum(rng.standard_normal(n_samples)) / 100.0
    reference = ((reference - reference.mean()) * gate).astype(np.float32)
    return track, reference


def bench_predict(profile: str, n: int = 20, duration_s: float = 10.0, sample_rate: int = 44100,
                  checkpoint: str | Path | None = None) -> dict:
    """Median/min/p90 wall time in ms of each predictor over ``n`` calls (one untimed warm-up call each)."""
    import torch

    from host.matching.curve_fit import fit_profile
    from model import predict, predict_curve

    prof = load_profile(profile)
    track, reference = _inputs(int(duration_s * sample_rate), sample_rate)
    runs: dict[str, Callable[[], object]] = {
        "classifier": lambda: predict(track, reference, sample_rate, prof, checkpoint)}
    if CURVE_CHECKPOINT.is_file() and prof.is_eq and duration_s >= CURVE_MIN_DURATION_S:
        def curve() -> np.ndarray:
            c = predict_curve(track, reference, sample_rate)
            return fit_profile(prof, c.curve_db, c.scale_db)
        runs["curve"] = curve
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(n):
        for name, run in runs.items():  # alternating, so load from outside hits both alike
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - start) * 1000.0)
            cpu[name].append((time.process_time() - start_cpu) * 1000.0)
    out: dict = {"n": n, "duration_s": duration_s, "threads": torch.get_num_threads()}
    for name, t in times.items():
        a = np.array(t)
        # CPU time (all threads of this process) beside wall time: on a shared machine it shows the work done
        # while the wall time also counts waiting for a core.
        out[name] = {"median_ms": float(np.median(a)), "min_ms": float(a.min()), "p90_ms": float(np.percentile(a, 90)),
                     "cpu_median_ms": float(np.median(cpu[name]))}
    out.update(out["classifier"])  # the classifier's figures at the top level, as before
    return out


LABELS = {"classifier": "model.predict, classifier (features + network)",
          "curve": "curve model (statistics + network + the profile's fit)"}


def predict_report(result: dict) -> BenchReport:
    rows = tuple((LABELS[name], result[name]["median_ms"], result[name]["p90_ms"], result[name]["min_ms"],
                  result[name]["cpu_median_ms"]) for name in LABELS if name in result)
    return BenchReport(f"bench predict: {result['duration_s']:g} s track and reference, {result['n']} calls, "
                       f"{result['threads']} torch thread(s)", ("what", "median ms", "p90 ms", "min ms", "CPU median ms"),
                       rows, result)
