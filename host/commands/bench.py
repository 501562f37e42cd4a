"""`eqbridge bench render|predict|osc|apply`: rerunnable benchmarks that report ratios from one run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _render(args: argparse.Namespace) -> int:
    from host.bench import bench_render

    result = bench_render(args.plugin, Path(args.audio), segment_s=args.segment_seconds,
                          iterations=args.iterations, segments=args.segments,
                          workers=tuple(int(w) for w in args.workers.split(",")))
    print(f"plugin {result.profile}, {result.segment_s} s segments at {result.sample_rate} Hz")
    print(f"raw DawDreamer: {result.raw_rows_per_s:8.1f} rows/s (2 renders per row, 1 process)")
    for w, rate in result.dataset_rows_per_s.items():
        print(f"render-dataset, {w} worker(s): {rate:8.1f} rows/s = {100 * result.per_worker_ratio(w):5.1f}% "
              f"of raw per worker")
    if args.json:
        Path(args.json).write_text(json.dumps(result.as_dict(), indent=2))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from host.commands.bench_predict import bench_predict

    result = bench_predict(args.plugin, args.n, checkpoint=args.checkpoint)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def _apply(args: argparse.Namespace) -> int:
    from host.bench_apply import bench_apply, format_bench_apply

    result = bench_apply(args.plugin, n_stems=args.stems, stem_s=args.stem_seconds,
                         workers=tuple(int(w) for w in args.workers.split(",")), checkpoint=args.checkpoint)
    print(format_bench_apply(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="rerunnable benchmarks")
    kinds = bench.add_subparsers(dest="bench", required=True)
    render = kinds.add_parser("render", help="dataset rows/s against raw DawDreamer rendering")
    render.add_argument("--plugin", default="faust-peq")
    render.add_argument("--audio", required=True, help="folder of recordings (a corpus or WAV/FLAC folder)")
    render.add_argument("--segment-seconds", type=float, default=3.0)
    render.add_argument("--iterations", type=int, default=16)
    render.add_argument("--segments", type=int, default=8)
    render.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    render.add_argument("--json", help="also write the figures to this JSON file")
    render.set_defaults(func=_render)

    predict = kinds.add_parser("predict", help="features + model for a 10 s track against a 10 s reference (CPU)")
    predict.add_argument("--plugin", default="faust-peq")
    predict.add_argument("--checkpoint", help="default presets/checkpoints/<plugin>.pt")
    predict.add_argument("-n", type=int, default=20, help="timed calls (median reported)")
    predict.add_argument("--json", help="also write the figures to this JSON file")
    predict.set_defaults(func=_predict)

    apply = kinds.add_parser("apply", help="eqbridge apply stems/s and real-time factor against raw DawDreamer")
    apply.add_argument("--plugin", default="faust-peq")
    apply.add_argument("--stems", type=int, default=10)
    apply.add_argument("--stem-seconds", type=float, default=30.0)
    apply.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    apply.add_argument("--checkpoint", help="default presets/checkpoints/<plugin>.pt")
    apply.add_argument("--json", help="also write the figures to this JSON file")
    apply.set_defaults(func=_apply)

    from host.commands import bench_osc

    osc = kinds.add_parser("osc", help="OSC round trip /eqbridge/match -> /eqbridge/done on loopback, and clip transfer")
    bench_osc.add_arguments(osc)
    osc.set_defaults(func=bench_osc.run)
