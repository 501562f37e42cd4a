"""`eqbridge bench render|predict|osc|daw|apply|cold`: rerunnable benchmarks, each against a baseline measured in the
same run. Every one prints a table to stdout, or with ``--json`` the same figures as JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from host.errors import OptionError


def _workers(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--workers takes comma-separated counts such as 1,2; got {text!r}")
    if not counts or any(not 1 <= w <= 64 for w in counts):
        raise argparse.ArgumentTypeError(f"--workers counts must lie in 1..64, got {text!r}")
    return counts


def _print(report, as_json: bool) -> int:
    print(report.json() if as_json else report.table())
    return 0


def _render(args: argparse.Namespace) -> int:
    from host.bench.render import bench_render, render_report

    result = bench_render(args.plugin, Path(args.audio), segment_s=args.segment_seconds, iterations=args.iterations,
                          segments=args.segments, workers=args.workers)
    return _print(render_report(result), args.json)


def _predict(args: argparse.Namespace) -> int:
    from host.bench.predict import bench_predict, predict_report

    return _print(predict_report(bench_predict(args.plugin, args.n, checkpoint=args.checkpoint)), args.json)


def _apply(args: argparse.Namespace) -> int:
    from host.bench.apply import apply_report, bench_apply

    result = bench_apply(args.plugin, n_stems=args.stems, stem_s=args.stem_seconds, workers=args.workers,
                         checkpoint=args.checkpoint)
    return _print(apply_report(result), args.json)


def _osc(args: argparse.Namespace) -> int:
    from host.bench.osc import bench_osc, osc_report

    if args.iterations < 1 or args.iterations > 1000:
        raise OptionError(f"--iterations must lie in 1..1000, got {args.iterations}")
    return _print(osc_report(bench_osc(args.plugin, args.duration_seconds, args.iterations, args.checkpoint)),
                  args.json)


def _daw(args: argparse.Namespace) -> int:
    from host.bench.daw import bench_daw, daw_report

    return _print(daw_report(bench_daw(args.iterations)), args.json)


def _cold(args: argparse.Namespace) -> int:
    from host.bench.cold import bench_cold, cold_report

    return _print(cold_report(bench_cold(args.plugin, args.n)), args.json)


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="rerunnable benchmarks (a table, or JSON with --json)")
    kinds = bench.add_subparsers(dest="bench", required=True)

    def kind(name: str, help: str, func) -> argparse.ArgumentParser:
        p = kinds.add_parser(name, help=help)
        p.add_argument("--plugin", default="faust-peq", help="plugin profile (default faust-peq)")
        p.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
        p.set_defaults(func=func)
        return p

    render = kind("render", "dataset rows/s against raw DawDreamer rendering", _render)
    render.add_argument("--audio", required=True, help="folder of recordings (a corpus or WAV/FLAC folder)")
    render.add_argument("--segment-seconds", type=float, default=2.0, help="segment length (default 2, as shipped)")
    render.add_argument("--iterations", type=int, default=16)
    render.add_argument("--segments", type=int, default=8)
    render.add_argument("--workers", type=_workers, default=(1, 2), help="comma-separated worker counts")

    predict = kind("predict", "features + model for a 10 s track against a 10 s reference (CPU)", _predict)
    predict.add_argument("--checkpoint", help="default presets/checkpoints/<plugin>.pt")
    predict.add_argument("-n", type=int, default=20, help="timed calls (median reported)")

    apply = kind("apply", "eqbridge apply stems/s and real-time factor against raw DawDreamer", _apply)
    apply.add_argument("--stems", type=int, default=10)
    apply.add_argument("--stem-seconds", type=float, default=30.0)
    apply.add_argument("--workers", type=_workers, default=(1, 2), help="comma-separated worker counts")
    apply.add_argument("--checkpoint", help="default presets/checkpoints/<plugin>.pt")

    osc = kind("osc", "OSC round trip /eqbridge/match -> /eqbridge/done on loopback, and clip transfer", _osc)
    osc.add_argument("--duration-seconds", type=float, default=10.0, help="length of track and reference")
    osc.add_argument("--iterations", type=int, default=20)
    osc.add_argument("--checkpoint", help="model file (default presets/checkpoints/<plugin>.pt)")

    daw = kinds.add_parser("daw", help="a match request -> its values confirmed in a headless Ardour (zameq2; needs ardour7-lua)")
    daw.add_argument("--iterations", type=int, default=10, help="timed requests (median reported; 1..100)")
    daw.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    daw.set_defaults(func=_daw)

    cold = kind("cold", "a cold `eqbridge match` of the bundled clips (fresh process) against a bare Python start", _cold)
    cold.add_argument("-n", type=int, default=5, help="timed runs of each, alternating (median reported; 1..50)")
