"""`eqbridge evaluate`: parameter-domain MAE report, and with --audio-rows the audio-domain report too."""

from __future__ import annotations

import argparse
from pathlib import Path

from host.errors import OptionError
from host.paths import check_output_folder, dataset_inputs


def _run(args: argparse.Namespace) -> int:
    from model import evaluate_checkpoint

    if args.no_matchering and not args.audio_rows:
        raise OptionError("--no-matchering applies to the audio-domain report: give --audio-rows N as well")
    if args.audio_rows < 0:
        raise OptionError(f"--audio-rows must be >= 0, got {args.audio_rows}")
    from host.evaluation.audio_eval import REPORT_JSON, REPORT_MD

    inputs = {**dataset_inputs("--data", args.data), "--checkpoint": args.checkpoint,
              **{f"--baselines {b}": b for b in args.baselines}}
    check_output_folder("--out", args.out, inputs,
                        files=("report.md", "report.json", *((REPORT_MD, REPORT_JSON) if args.audio_rows else ())))

    evaluate_checkpoint(args.data, args.checkpoint, args.out, split=args.split, baselines=args.baselines)
    print((Path(args.out) / "report.md").read_text())
    if args.audio_rows:
        from host.evaluation.audio_eval import evaluate_audio, format_table
        from model import predict_split

        n = args.audio_rows
        predictions = {"model": predict_split(args.data, args.checkpoint, args.split, decode="median", max_rows=n)}
        for path in args.baselines:
            name = Path(path).stem
            predictions[name] = predict_split(args.data, path, args.split, decode="median", max_rows=n)
        report = evaluate_audio(args.data, predictions, split=args.split, max_rows=n, out_dir=args.out,
                                matchering=not args.no_matchering)
        print(format_table(report))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("evaluate", help="MAE per parameter on a dataset split (report.md/.json); with "
                                             "--audio-rows also audio-domain distances (audio_report.md/.json)")
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (with manifest.json)")
    parser.add_argument("--checkpoint", type=Path, required=True, help="model checkpoint (.pt)")
    parser.add_argument("--out", type=Path, required=True, help="report folder")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--baselines", type=Path, nargs="*", default=[], help="baseline checkpoints to compare")
    parser.add_argument("--audio-rows", type=int, default=0, metavar="N",
                        help="also render the split's first N rows through the plugin for every system and "
                             "compare with the target (no-op, model, baselines, DSP EQ match, Matchering)")
    parser.add_argument("--no-matchering", action="store_true", help="leave Matchering out of the audio report")
    parser.set_defaults(func=_run)
