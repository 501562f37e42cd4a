"""`eqbridge evaluate`: parameter-domain MAE report for a checkpoint, baselines and the mean floor."""

from __future__ import annotations

import argparse
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    from model.evaluate import evaluate

    evaluate(args.data, args.checkpoint, args.out, split=args.split, baselines=args.baselines)
    print((Path(args.out) / "report.md").read_text())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("evaluate", help="MAE per parameter on a dataset split; writes report.md and report.json")
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (with manifest.json)")
    parser.add_argument("--checkpoint", type=Path, required=True, help="model checkpoint (.pt)")
    parser.add_argument("--out", type=Path, required=True, help="report folder")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--baselines", type=Path, nargs="*", default=[], help="baseline checkpoints to compare")
    parser.set_defaults(func=_run)
