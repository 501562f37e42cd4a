"""`eqbridge evaluate-audio`: render predictions through the real plugin and score them against the targets."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from host.errors import DatasetError

log = logging.getLogger(__name__)


def load_predictions(paths: list[str]) -> dict[str, np.ndarray]:
    """Method name -> (rows, P) physical values, from .npz files (each array's name is its method's name).

    Raises:
        DatasetError: a file is unreadable or two files name the same method.
    """
    out: dict[str, np.ndarray] = {}
    for path in paths:
        try:
            with np.load(path) as arrays:
                for name in arrays.files:
                    if name in out:
                        raise DatasetError(f"method {name!r} appears in more than one --predictions file ({path})")
                    out[name] = arrays[name]
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read predictions file {path}: {exc}") from exc
    return out


def _run(args: argparse.Namespace) -> int:
    from host.evaluation.audio_eval import evaluate_audio, format_table  # loads torch (auraloss): only when run

    report = evaluate_audio(Path(args.data), load_predictions(args.predictions or []), split=args.split,
                            max_rows=args.audio_rows, out_dir=Path(args.out), dsp_eq_match=not args.no_dsp,
                            matchering=not args.no_matchering, progress=True)
    print(format_table(report), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate-audio", help="score predicted settings in the audio domain (mel, MR-STFT, LUFS) "
                                              "against no-op, a DSP EQ match and Matchering")
    p.add_argument("--data", required=True, help="dataset folder (manifest.json + shards)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--audio-rows", type=int, metavar="N", help="evaluate only the split's first N rows (as `evaluate --audio-rows`)")
    p.add_argument("--out", required=True, help="folder for audio_report.md and audio_report.json")
    p.add_argument("--predictions", nargs="*", metavar="NPZ",
                   help=".npz files of method name -> (rows, P) physical settings in the split's manifest order")
    p.add_argument("--no-dsp", action="store_true", help="skip the DSP EQ-match baseline")
    p.add_argument("--no-matchering", action="store_true", help="skip the Matchering baseline")
    p.set_defaults(func=_run)
