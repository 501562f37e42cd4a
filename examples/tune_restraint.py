"""Choose the curve model's restraint on the validation split (never on the test): curve error and the share of
pairs worse than leaving the track alone, raw and level-invariant, music and speech apart.

    .venv/bin/python examples/tune_restraint.py --data data/curve-data [--checkpoint presets/checkpoints/curve.pt]
        [--batches 16] [--restraint 0 0.5 1 1.5 2]

Pairs are the training sampler's validation pairs (two parts of one recording, a shared scene, a random curve of
the four EQ profiles' bank), curve domain (mean |dB| over the 128 mel bands); "level-invariant" removes each
pair's mean offset first, as evaluate-audio's level-invariant mel distance does.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from model.curve.data import PairSampler, load_curve_data
from model.curve.features import pair_input
from model.curve.checkpoint import load_curve_checkpoint
from model.curve.restraint import restrain


def _errors(pred: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    diff = pred - truth
    return {"raw": np.abs(diff).mean(axis=1), "flat": np.abs(truth).mean(axis=1),
            "li": np.abs(diff - diff.mean(axis=1, keepdims=True)).mean(axis=1),
            "flat_li": np.abs(truth - truth.mean(axis=1, keepdims=True)).mean(axis=1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--batches", type=int, default=16, help="validation batches of 256 pairs per kind")
    parser.add_argument("--restraint", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0])
    args = parser.parse_args()
    data = load_curve_data(args.data)
    model = load_curve_checkpoint(args.checkpoint)
    print("| val pairs | K | curve error raw (dB) | ratio to flat | worse raw | level-inv. (dB) | ratio | worse level-inv. |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind in ("music", "speech"):
        sampler = PairSampler(data, "val", seed=1)
        keep = [i for i, f in enumerate(sampler.files) if (f.kind == "speech") == (kind == "speech")]
        sampler.files = [sampler.files[i] for i in keep]
        sampler.weights = sampler.weights[keep] / sampler.weights[keep].sum()
        medians, scales, truths = [], [], []
        with torch.inference_mode():
            for b in range(args.batches):
                track, ref, curve = (torch.from_numpy(a) for a in sampler.batch(10_000_000 + b, 256))
                median, log_scale = model.network(pair_input(track, ref, data.stats_config))
                medians.append(median.double().numpy())
                scales.append(torch.exp(log_scale).double().numpy())
                truths.append(curve.double().numpy())
        median, scale, truth = np.concatenate(medians), np.concatenate(scales), np.concatenate(truths)
        for k in args.restraint:
            e = _errors(restrain(median, scale, k), truth)
            print(f"| {kind} ({len(truth)}) | {k:g} | {e['raw'].mean():.3f} | {e['raw'].mean() / e['flat'].mean():.3f}"
                  f" | {np.mean(e['raw'] > e['flat']):.1%} | {e['li'].mean():.3f} | {e['li'].mean() / e['flat_li'].mean():.3f}"
                  f" | {np.mean(e['li'] > e['flat_li']):.1%} |")


if __name__ == "__main__":
    main()
