"""`eqbridge match TRACK REFERENCE --out OUT.wav`: the main job."""

from __future__ import annotations

import argparse

from host.commands import add_curve_options, add_model_options
from host.matching.match import match


def _run(args: argparse.Namespace) -> int:
    result = match(args.track, args.reference, args.out, plugin=args.plugin, settings_out=args.settings_out,
                   plot=args.plot, checkpoint=args.checkpoint, refine_s=args.refine, no_clip=args.no_clip,
                   model=args.model, restraint=args.restraint, stereo=args.stereo, link_percent=args.link,
                   range_hz=tuple(args.range) if args.range else None, weights=args.weights)
    s = result.settings
    print(f"matched {args.track} to {', '.join(args.reference)} with {s.profile} -> {result.out_path} "
          f"(peak {result.peak_dbfs:+.1f} dBFS)")
    for channel, settings in (result.channels or {"all": s}).items():
        if args.stereo != "link":
            print(f"  {channel}:")
        for name, value in settings.values.items():
            print(f"  {name:16s} {value:10.2f}   (normalized {settings.normalized[name]:.4f}, "
                  f"index {settings.indices[name]})")
    if result.level.note():
        print(f"  output level: {result.level.note()}")
    for label, path in (("settings", result.settings_path), ("curve", result.plot_path)):
        if path:
            print(f"  {label}: {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("match", help="match TRACK to REFERENCE through a real EQ plugin and write the result")
    p.add_argument("track", help="audio file to equalize")
    p.add_argument("reference", nargs="+", help="other material with the wanted sound; several are combined "
                                                "(the weighted mean of their predicted curves, curve model)")
    p.add_argument("--weights", type=float, nargs="+", metavar="W",
                   help="one weight per reference (0..1000; only their ratios matter; default equal)")
    add_curve_options(p)
    p.add_argument("--out", required=True, help="output audio file (WAV/FLAC)")
    p.add_argument("--plugin", default="faust-peq", help="plugin profile (see `eqbridge plugins`)")
    p.add_argument("--settings-out", help="write the settings (physical and normalized) as JSON")
    p.add_argument("--plot", help="write the EQ curve and spectra as PNG")
    p.add_argument("--refine", type=float, default=0.0, metavar="SECONDS",
                   help="refine the prediction through the plugin for this long (CMA-ES); 0 = one-shot")
    p.add_argument("--no-clip", action="store_true",
                   help="lower the output gain so the peak stays at -0.1 dBFS (a fixed-point file would clip)")
    add_model_options(p)
    p.set_defaults(func=_run)
