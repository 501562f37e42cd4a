"""`eqbridge curve-data`, `train-curve` and `combine-curves`: the curve model (one model for every EQ plugin)."""

from __future__ import annotations

import argparse
from pathlib import Path

from host.errors import OptionError

MAX_STEPS = 1_000_000
MAX_THREADS = 64


def _sources(text: str) -> tuple[str, ...]:
    return tuple(s for s in (p.strip() for p in text.split(",")) if s)


def _run_data(args: argparse.Namespace) -> int:
    from host.data.curve_data import CurveDataConfig, RenderConfig, build_curve_data

    if args.renders is not None and args.rendered is None:
        raise OptionError("--renders needs --rendered PLUGIN")
    renders = 2 if args.renders is None else args.renders
    render = RenderConfig(args.rendered, renders) if args.rendered is not None else None  # it checks renders
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise OptionError(f"--out {out} exists and is not a folder")
    if out.resolve() == Path(args.corpus).resolve():
        raise OptionError("--out must not be the corpus folder")
    path = build_curve_data(args.corpus, out, CurveDataConfig(holdout=_sources(args.holdout), seed=args.seed),
                            progress=not args.no_progress, workers=args.workers, render=render)
    print(f"curve data written to {path.parent}")
    return 0


def _run_train(args: argparse.Namespace) -> int:
    from model import CurveTrainConfig, train_curve

    if not 1 <= args.steps <= MAX_STEPS:
        raise OptionError(f"--steps must lie in [1, {MAX_STEPS}], got {args.steps}")
    if not 1 <= args.threads <= MAX_THREADS:
        raise OptionError(f"--threads must lie in [1, {MAX_THREADS}], got {args.threads}")
    config = CurveTrainConfig(steps=args.steps, seed=args.seed, threads=args.threads, pairs=args.pairs)
    history = train_curve(args.data, args.out, config, progress=not args.no_progress, force=args.force)
    best = min(history, key=lambda r: r["curve_mae_db"]) if history else None
    if best:
        print(f"best step {best['step']}: validation curve error {best['curve_mae_db']:.3f} dB (flat "
              f"{best['flat_mae_db']:.3f}, spectrum ratio {best['ratio_mae_db']:.3f}) -> {args.out}")
    return 0


def _run_combine(args: argparse.Namespace) -> int:
    from model import write_curve_ensemble

    out = write_curve_ensemble(args.members, args.out, force=args.force)
    print(f"ensemble of {len(args.members)} curve models written to {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("curve-data", help="band statistics of a corpus and a bank of EQ curves, for train-curve")
    data.add_argument("--corpus", required=True, help="corpus folder (corpus build output) or any audio folder")
    data.add_argument("--out", required=True, help="folder to write")
    data.add_argument("--holdout", default="wesnoth-music,musescore-midi",
                      help="comma-separated corpus sources kept for the test only (never trained on)")
    data.add_argument("--seed", type=int, default=0, help="segments, scenes, curves and the split")
    data.add_argument("--workers", type=int, default=1, help="processes (the data does not depend on it)")
    data.add_argument("--rendered", metavar="PLUGIN",
                      help="also render each train/val file variant through this EQ profile's real plugin at "
                           "--renders random settings and store the segments' statistics of the renders "
                           "(for train-curve --pairs rendered); the other arrays stay the same")
    data.add_argument("--renders", type=int, default=None,
                      help="random settings rendered per file variant with --rendered (1..8, default 2)")
    data.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    data.set_defaults(func=_run_data)
    train = sub.add_parser("train-curve", help="train the curve model on curve-data output (resumes OUT.last.pt)")
    train.add_argument("--data", required=True, help="curve-data folder")
    train.add_argument("--out", required=True, help="checkpoint to write, e.g. presets/checkpoints/curve.pt")
    train.add_argument("--steps", type=int, default=6000, help="optimizer steps of 256 pairs (default 6000)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=2,
                       help="CPU threads (1..64, default 2; use 1 when other work shares the cores); a resumed run may change it")
    train.add_argument("--pairs", choices=("analytic", "rendered"), default="analytic",
                       help="the reference of a pair: dry statistics plus a bank curve (analytic, default), or "
                            "its statistics rendered through the real plugin (rendered: curve-data --rendered); "
                            "validation uses the same kind; a resumed run must keep it")
    train.add_argument("--force", action="store_true", help="replace the shipped model in presets/")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.set_defaults(func=_run_train)
    combine = sub.add_parser("combine-curves", help="write train-curve checkpoints (seeds of one curve data) as one "
                                                    "ensemble model")
    combine.add_argument("members", nargs="+", help="train-curve checkpoints (2..16, same curve data)")
    combine.add_argument("--out", required=True, help="ensemble checkpoint to write, e.g. presets/checkpoints/curve.pt")
    combine.add_argument("--force", action="store_true", help="replace the shipped model in presets/")
    combine.set_defaults(func=_run_combine)
