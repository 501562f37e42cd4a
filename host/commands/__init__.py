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
