"""`eqbridge apply --reference REF --stems DIR --out OUTDIR`: match a folder of stems to a reference."""

from __future__ import annotations

import argparse

from host.commands import add_curve_options, add_model_options
from host.matching.apply import MODES, ApplyConfig, apply_stems
from host.matching.pipeline import AMOUNT_RANGE_PERCENT


def _run(args: argparse.Namespace) -> int:
    config = ApplyConfig(plugin=args.plugin, mode=args.mode, amount_percent=args.amount,
                         max_gain_db=args.max_gain_db, no_clip=args.no_clip, checkpoint=args.checkpoint,
                         refine_s=args.refine, model=args.model, restraint=args.restraint, stereo=args.stereo,
                         link_percent=args.link, range_hz=tuple(args.range) if args.range else None,
                         weights=tuple(args.weights) if args.weights else None)
    summary = apply_stems(args.reference, args.stems, args.out, config, workers=args.workers,
                          progress=not args.no_progress, overwrite=args.overwrite)
    if summary.shared_values:
        print("shared settings (from the sum of the stems): "
              + ", ".join(f"{k}={v:.2f}" for k, v in summary.shared_values.items()))
    for channel, values in (summary.shared_channels or {}).items():
        print(f"shared {channel} settings (from the sum of the stems): "
              + ", ".join(f"{k}={v:.2f}" for k, v in values.items()))
    for r in summary.results:
        if r.record is None:
            print(f"  {r.name:28s} FAILED: {r.error}")
            continue
        m = r.record["metrics"]
        print(f"  {r.name:28s} {r.status:8s} tonal distance {m['tonal_rms_db_before']:5.2f} -> "
              f"{m['tonal_rms_db_after']:5.2f} dB RMS, peak {m['peak_dbfs']:+6.2f} dBFS"
              + (f", output gain {m['output_gain_db']:+.2f} dB" if m["output_gain_db"] else "")
              + (f", {m['clipped_samples']} samples clipped" if m["clipped_samples"] else ""))
    c = summary.counts
    print(f"{c['done']} rendered, {c['skipped']} finished earlier, {c['failed']} failed in {summary.seconds:.1f} s; "
          f"report: {summary.report}")
    return 1 if c["failed"] else 0


def register(sub: argparse._SubParsersAction) -> None:
    lo, hi = AMOUNT_RANGE_PERCENT
    p = sub.add_parser("apply", help="match every stem in a folder to a reference through a real EQ plugin")
    p.add_argument("--reference", required=True, action="append",
                   help="audio with the wanted sound; repeat it for several references (combined as the weighted "
                        "mean of their predicted curves, curve model)")
    p.add_argument("--weights", type=float, nargs="+", metavar="W",
                   help="one weight per --reference, in order (0..1000; only their ratios matter; default equal)")
    add_curve_options(p)
    p.add_argument("--stems", required=True, help="folder of stems (WAV/FLAC/AIFF...; not searched recursively)")
    p.add_argument("--out", required=True, help="output folder (must not be the stems folder)")
    p.add_argument("--plugin", default="faust-peq", help="plugin profile: zameq2, lsp-para-eq or faust-peq")
    p.add_argument("--mode", choices=MODES, default="per-stem",
                   help="per-stem: settings per stem; shared: one setting from the stems' sum, on every stem")
    p.add_argument("--amount", type=float, default=100.0,
                   help=f"percent of the predicted gains ({lo:g}..{hi:g}; 0 bypasses, negative inverts)")
    p.add_argument("--max-gain-db", type=float, help="cap every band's boost and cut at this many dB")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (one plugin host each)")
    p.add_argument("--refine", type=float, default=0.0, metavar="SECONDS",
                   help="refine each prediction this long through the plugin (CMA-ES); 0 = one-shot")
    p.add_argument("--no-clip", action="store_true",
                   help="lower a stem's output gain so its peak stays below 0 dBFS (reported per stem)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace files in OUTDIR that apply did not write (by default such a file is an error)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_model_options(p)
    p.set_defaults(func=_run)
