"""`eqbridge evaluate-audio`: render predictions through the real plugin and score them against the targets."""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

import numpy as np

from host.errors import DatasetError, OptionError
from host.matching.pipeline import MAX_REFINE_S

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


def _named(specs: list[str], option: str) -> list[tuple[str, Path | None]]:
    """NAME=PATH (or NAME alone: the shipped default) pairs of ``option``."""
    out = []
    for spec in specs:
        name, _, path = spec.partition("=")
        if not name:
            raise OptionError(f"{option} takes NAME=CHECKPOINT or NAME, got {spec!r}")
        out.append((name, Path(path) if path else None))
    return out


def _estimators(args: argparse.Namespace, profile_name: str) -> dict:
    """Methods that predict each row through the one matching pipeline (curve model or classifier)."""
    from host.matching.pipeline import MatchOptions, estimate
    from model.curve.restraint import DEFAULT_RESTRAINT
    from model.profiles import load_profile

    profile = load_profile(profile_name)
    out = {}
    restraints = args.restraint or [DEFAULT_RESTRAINT]
    for name, path in _named(args.classifier or [], "--classifier"):
        options = MatchOptions(profile, path, model="classifier")
        out[name] = lambda x, r, sr, o=options: estimate(x, r, sr, o).values
    for base, path in _named(args.curve or [], "--curve"):
        for k in restraints:
            name = base if len(restraints) == 1 else f"{base}-restraint{k:g}"
            options = MatchOptions(profile, path, model="curve", restraint=k)
            out[name] = lambda x, r, sr, o=options: estimate(x, r, sr, o).values
            if args.refine > 0:
                out[f"{name}+refine{args.refine:g}s"] = _refined(profile, MatchOptions(
                    profile, path, model="curve", refine_s=args.refine, restraint=k))
    return out


def _refined(profile, options):
    from host.matching.pipeline import estimate
    from host.matching.refine import plugin_refiner
    from host.plugins.render import PluginHost

    host = PluginHost(profile, 44100)
    return lambda x, r, sr: estimate(x, r, sr, options, plugin_refiner(host)).values


def _run(args: argparse.Namespace) -> int:
    from host.evaluation.audio_eval import evaluate_audio, format_table  # loads torch (auraloss): only when run
    from model.manifest import read_manifest

    if not (math.isfinite(args.refine) and 0.0 <= args.refine <= MAX_REFINE_S):
        raise OptionError(f"--refine must be a number of seconds in [0, {MAX_REFINE_S:g}], got {args.refine}")
    from host.evaluation.audio_eval import REPORT_JSON, REPORT_MD
    from host.paths import check_output_folder, dataset_inputs

    checkpoints = [p for _, p in _named(args.curve or [], "--curve") + _named(args.classifier or [], "--classifier")]
    check_output_folder("--out", args.out, {**dataset_inputs("--data", args.data),
                                            **{f"--predictions {p}": p for p in args.predictions or []},
                                            **{f"checkpoint {p}": p for p in checkpoints if p}},
                        files=(REPORT_MD, REPORT_JSON))
    estimators = _estimators(args, read_manifest(args.data).profile_name)
    report = evaluate_audio(Path(args.data), load_predictions(args.predictions or []), split=args.split,
                            max_rows=args.audio_rows, out_dir=Path(args.out), dsp_eq_match=not args.no_dsp,
                            matchering=not args.no_matchering, progress=True, estimators=estimators)
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
    p.add_argument("--curve", action="append", metavar="NAME[=CKPT]",
                   help="add the curve model as method NAME (default checkpoint presets/checkpoints/curve.pt); "
                        "repeatable")
    p.add_argument("--classifier", action="append", metavar="NAME[=CKPT]",
                   help="add a 21-bin classifier (or baseline) checkpoint as method NAME (default: the plugin's "
                        "shipped one); repeatable")
    p.add_argument("--refine", type=float, default=0.0, metavar="SECONDS",
                   help="also each --curve method refined this long through the plugin (default 0: not)")
    p.add_argument("--restraint", type=float, action="append", metavar="K",
                   help="the curve model's restraint (default 0.5); repeat to score several, each a row")
    p.add_argument("--no-dsp", action="store_true", help="skip the DSP EQ-match baseline")
    p.add_argument("--no-matchering", action="store_true", help="skip the Matchering baseline")
    p.set_defaults(func=_run)
