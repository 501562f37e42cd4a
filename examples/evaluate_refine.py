"""Measure refinement on a dataset split: one-shot vs one-shot + refine vs refine from scratch (ST-ITO style).

    .venv/bin/python examples/evaluate_refine.py --data data/ds-faust-speech-4000 --rows 20 --out out/refine-eval

For each test row: the model predicts settings from (input x, reference ref); refinement searches the
plugin's settings against the same reference for a time budget, starting at the prediction (with the
model's spread) or at the default setting (wide spread). Every result is rendered through the real plugin
and compared with the target y (x through the true settings): mel distance (host/evaluation/metrics.py, nepers) and
parameter MAE (0..1 across each parameter's range). Rows also for no-op, the DSP EQ-match fit and (with
--matchering) Matchering. Writes OUT/refine_report.md and .json.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model.atomic import atomic_open, write_json_atomic
from model.manifest import read_manifest
from host.evaluation.dsp_fit import fit_eq_match
from host.evaluation.audio_eval import load_split
from host.evaluation.metrics import mel_stft_nepers
from model.profiles import load_profile
from host.matching.refine import TonalObjective, refine
from host.plugins.render import PluginHost
from model import predict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument("--checkpoint", help="default presets/checkpoints/<profile>.pt")
    parser.add_argument("--budgets", default="0.5,1,2", help="seconds, refine from the prediction")
    parser.add_argument("--scratch-budgets", default="0.5,1,2,10", help="seconds, refine from the default")
    parser.add_argument("--prior-weights", default="0", help="comma-separated prior weights for seeded refinement")
    parser.add_argument("--reference", choices=("ref", "y"), default="ref",
                        help="ref: the dataset's reference (other material); y: the target itself (the easy case)")
    parser.add_argument("--matchering", action="store_true")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    manifest = read_manifest(args.data)
    profile = load_profile(manifest.profile_name)
    sr = manifest.sample_rate
    host = PluginHost(profile, sr)
    data = load_split(args.data, args.split, args.rows)
    budgets = [float(b) for b in args.budgets.split(",") if b]
    scratch = [float(b) for b in args.scratch_budgets.split(",") if b]
    priors = [float(w) for w in args.prior_weights.split(",") if w]
    methods: dict[str, list[tuple[float, float]]] = {}

    def record(name: str, row: int, values: np.ndarray | None, audio: np.ndarray | None = None) -> None:
        out = audio if audio is not None else host.render(data.x[row], values)
        unit_err = float(np.mean(np.abs(profile.to_unit(values) - profile.to_unit(data.params[row])))) \
            if values is not None else float("nan")
        methods.setdefault(name, []).append((mel_stft_nepers(out, data.y[row], sr), unit_err))

    for row in tqdm(range(len(data.x)), desc="refine-eval", unit="row"):
        x, ref = data.x[row], (data.ref if args.reference == "ref" else data.y)[row]
        record("no-op", row, None, audio=x)
        prediction = predict(x, ref, sr, profile, args.checkpoint)
        start = profile.values_from_dict(prediction.values)
        record("one-shot", row, start)
        objective = TonalObjective(host, x, ref)
        for b in budgets:
            for w in priors:
                result = refine(host, x, ref, b, start=start, probabilities=prediction.probabilities,
                                objective=objective, seed=row, prior_weight=w)
                record(f"one-shot + refine {b:g} s" + (f" (prior {w:g})" if w else ""), row, result.values)
        for b in scratch:
            result = refine(host, x, ref, b, start=None, objective=objective, seed=row)
            record(f"refine from default {b:g} s", row, result.values)
        record("dsp-eq-match", row, fit_eq_match(x, ref, sr, profile))
        if args.matchering:
            from host.evaluation.matchering import matchering_match

            record("matchering", row, None, audio=matchering_match(x, ref, sr))

    summary = {name: {"mel_distance_mean": float(np.mean([m for m, _ in v])),
                      "mel_distance_std": float(np.std([m for m, _ in v])),
                      "param_mae_unit_mean": float(np.nanmean([e for _, e in v])) if any(
                          np.isfinite(e) for _, e in v) else None,
                      "rows": len(v)} for name, v in methods.items()}
    out = Path(args.out)
    write_json_atomic(out / "refine_report.json", {"data": args.data, "split": args.split, "profile": profile.name,
                                                    "reference": args.reference, "methods": summary})
    lines = [f"# Refinement on {args.data} ({args.split}, {len(data.x)} rows, {profile.name}, "
             f"reference = {args.reference})", "",
             "| method | mel distance to target (nepers) | parameter MAE (0..1) |", "|---|---|---|"]
    for name, s in summary.items():
        mae = "-" if s["param_mae_unit_mean"] is None else f"{s['param_mae_unit_mean']:.3f}"
        lines.append(f"| {name} | {s['mel_distance_mean']:.3f} ± {s['mel_distance_std']:.3f} | {mae} |")
    with atomic_open(out / "refine_report.md") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
