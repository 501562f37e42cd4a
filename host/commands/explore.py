"""`eqbridge explore TRACK REFERENCE --n 8 --radius R --out DIR`: settings near the match, rendered."""

from __future__ import annotations

import argparse

from host.matching.explore import explore


def _run(args: argparse.Namespace) -> int:
    result = explore(args.track, args.reference, args.out, plugin=args.plugin, n=args.n, radius=args.radius,
                     checkpoint=args.checkpoint, seed=args.seed, plot=not args.no_plot)
    print(f"explored {result.profile}: {len(result.variant_paths)} variants in {result.out_dir}")
    for path, radius in zip(result.variant_paths, result.radii):
        print(f"  {path.name}  latent distance {radius:.3f}")
    if result.plot_path:
        print(f"  picture: {result.plot_path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explore", help="render settings that sound like the match but differ (latent neighbours)")
    p.add_argument("track", help="audio file to process")
    p.add_argument("reference", help="other material with the wanted sound")
    p.add_argument("--out", required=True, help="folder for variant-XX.wav/.json, match.wav/.json, explore.png")
    p.add_argument("--plugin", default="faust-peq", help="plugin profile with a controller (presets/controllers)")
    p.add_argument("--n", type=int, default=8, help="number of variants")
    p.add_argument("--radius", type=float, default=1.0, help="largest latent distance from the match")
    p.add_argument("--seed", type=int, default=0, help="seeds the latent directions")
    p.add_argument("--checkpoint", help="bottlenecked controller (default presets/controllers/<plugin>.pt)")
    p.add_argument("--no-plot", action="store_true", help="skip explore.png")
    p.set_defaults(func=_run)
