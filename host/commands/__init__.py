"""CLI subcommands: each module exposes ``register(subparsers)`` and sets ``func`` on its parser."""

from __future__ import annotations

import argparse

from host.matching.stereo import STEREO_MODES


def add_curve_options(p: argparse.ArgumentParser) -> None:
    """--stereo, --link and --range: shared by match and apply."""
    p.add_argument("--stereo", choices=STEREO_MODES, default="link",
                   help="link (default): one setting from the channel average on every channel; mid-side: one "
                        "setting for mid (L+R)/2 and one for side (L-R)/2; left-right: one per channel (curve model)")
    p.add_argument("--link", type=float, metavar="PERCENT",
                   help="with mid-side or left-right: how far both channels' curves move to the link curve, 0..100 "
                        "(0 = independent, the default; 100 = as --stereo link)")
    p.add_argument("--range", type=float, nargs=2, metavar=("LOW_HZ", "HIGH_HZ"),
                   help="match only between these frequencies; bands outside are left flat (curve model)")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """--checkpoint, --model and --restraint: which model predicts, shared by match, apply and serve."""
    from model.curve.restraint import DEFAULT_RESTRAINT, MAX_RESTRAINT  # torch-free, light

    p.add_argument("--checkpoint", help="model file for --model (default: presets/checkpoints/curve.pt for the curve "
                                        "model, presets/checkpoints/<plugin>.pt for the classifier; with --model auto "
                                        "a file given is read as a classifier)")
    p.add_argument("--model", default="auto", choices=("auto", "curve", "classifier"),
                   help="curve: the one model for every EQ (presets/checkpoints/curve.pt); classifier: the paper's "
                        "per-plugin 21-bin model; auto (default): curve for an EQ when installed")
    p.add_argument("--restraint", type=float, default=DEFAULT_RESTRAINT, metavar="K",
                   help=f"curve model: how far a curve it is unsure of shrinks toward flat, 0..{MAX_RESTRAINT:g} "
                        f"(0 = its median as is; default {DEFAULT_RESTRAINT:g})")
