"""`eqbridge bench predict`: time model.predict on a 10 s track against a 10 s reference."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from host.bench.report import BenchReport


def bench_predict(profile: str, n: int = 20, duration_s: float = 10.0, sample_rate: int = 44100,
                  checkpoint: str | Path | None = None) -> dict[str, float]:
    """Median/min/p90 wall time in ms of ``predict`` (features + network) over ``n`` calls.

    The checkpoint is loaded (and cached) by one untimed warm-up call. Inputs are seeded pink-ish noise.
    """
    import torch

    from model import predict

    rng = np.random.default_rng(0)
    n_samples = int(duration_s * sample_rate)
    track = (0.1 * rng.standard_normal(n_samples)).astype(np.float32)
    reference = (0.1 * np.cumsum(rng.standard_normal(n_samples)) / 100.0).astype(np.float32)
    reference -= reference.mean()
    predict(track, reference, sample_rate, profile, checkpoint)
    times_ms = []
    for _ in range(n):
        start = time.perf_counter()
        predict(track, reference, sample_rate, profile, checkpoint)
        times_ms.append((time.perf_counter() - start) * 1000.0)
    t = np.array(times_ms)
    return {"median_ms": float(np.median(t)), "min_ms": float(t.min()), "p90_ms": float(np.percentile(t, 90)),
            "n": n, "duration_s": duration_s, "threads": torch.get_num_threads()}


def predict_report(result: dict) -> BenchReport:
    rows = [("model.predict (features + network)", result["median_ms"], result["p90_ms"], result["min_ms"])]
    return BenchReport(f"bench predict: {result['duration_s']:g} s track and reference, {result['n']} calls, "
                       f"{result['threads']} torch thread(s)", ("what", "median ms", "p90 ms", "min ms"),
                       tuple(rows), result)
