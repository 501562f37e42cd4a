"""`eqbridge bench-predict`: time model.predict on a 10 s track against a 10 s reference."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def bench_predict(profile: str, n: int = 20, duration_s: float = 10.0, sample_rate: int = 44100,
                  checkpoint: str | Path | None = None) -> dict[str, float]:
    """Median/min/p90 wall time in ms of ``predict`` (features + network) over ``n`` calls.

    The checkpoint is loaded (and cached) by one untimed warm-up call. Inputs are seeded pink-ish noise.
    """
    import torch

    from model.inference import predict

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


def _run(args: argparse.Namespace) -> int:
    print(json.dumps(bench_predict(args.plugin, args.n, checkpoint=args.checkpoint), indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench-predict", help="time predict() on 10 s track + 10 s reference")
    parser.add_argument("--plugin", default="faust-peq", help="profile name")
    parser.add_argument("--checkpoint", type=Path, help="default presets/checkpoints/<plugin>.pt")
    parser.add_argument("-n", type=int, default=20, help="timed calls")
    parser.set_defaults(func=_run)
