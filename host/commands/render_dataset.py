"""`eqbridge render-dataset`: render a training dataset through a real plugin."""

from __future__ import annotations

import argparse
from pathlib import Path



def _names(text: str | None) -> tuple[str, ...]:
    """'a, b,,c' -> ('a', 'b', 'c'), in order, without repeats."""
    return tuple(dict.fromkeys(n.strip() for n in (text or "").split(",") if n.strip()))


def _run(args: argparse.Namespace) -> int:
    from host.data.dataset import DatasetConfig, parse_split, render_dataset  # scipy.signal: seconds to import

    config = DatasetConfig(profile=args.plugin, iterations=args.iterations, segments=args.segments,
                           segment_s=args.segment_seconds, sample_rate=args.sample_rate, seed=args.seed,
                           split=parse_split(args.split_shares), reference_from=args.reference_from,
                           augment=not args.no_augment,
                           kinds=tuple(k for k in args.kinds.split(",") if k) if args.kinds else (),
                           holdout_sources=_names(args.holdout), sources=_names(args.sources))
    summary = render_dataset(config, Path(args.audio), Path(args.out), workers=args.workers,
                             executor=args.executor, address=args.address)
    print(f"{summary.out_dir}: {summary.shards_total} shards ({summary.shards_rendered} rendered now, "
          f"{summary.rows_rendered} rows, {summary.rows_per_s:.1f} rows/s)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render-dataset", help="render (input, reference, target, settings) rows through a plugin")
    p.add_argument("--plugin", default="faust-peq", help="plugin profile name (see `eqbridge plugins`)")
    p.add_argument("--audio", required=True, help="folder of recordings: a corpus or any WAV/FLAC folder")
    p.add_argument("--out", required=True, help="output folder (a rerun resumes)")
    p.add_argument("--iterations", type=int, required=True, help="M: iterations, one shard each")
    p.add_argument("--segments", type=int, default=8, help="N: segments per iteration (rows per shard)")
    p.add_argument("--segment-seconds", type=float, default=2.0,
                   help="segment length (default 2, the shipped datasets' and checkpoints')")
    p.add_argument("--sample-rate", type=int, default=44100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes (local) or Ray actors (ray), each with its own engine")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: processes on this machine; ray: Ray tasks (pip install 'eqbridge[cluster]')")
    p.add_argument("--address", help="ray: a running cluster's address, e.g. 10.0.0.1:6379 (default: start a "
                                     "local Ray instance); --audio and --out must be on a filesystem all nodes share")
    p.add_argument("--split-shares", default="50/10/40", help="train/val/test shares, by source recording "
                   "(--split elsewhere names one split)")
    p.add_argument("--reference-from", choices=("same-recording", "other-recording"), default="same-recording",
                   help="take Y from another part of the same recording, or from another recording of the same kind")
    p.add_argument("--kinds", help="only recordings of these kinds, e.g. speech or music (corpus folders)")
    p.add_argument("--holdout", metavar="SOURCE[,SOURCE...]",
                   help="corpus sources (manifest.json \"source\", e.g. wesnoth-music) whose recordings all go "
                        "to the test split and never to train or val; the others split by --split-shares")
    p.add_argument("--sources", metavar="SOURCE[,SOURCE...]",
                   help="only recordings of these corpus sources (manifest.json \"source\"), e.g. "
                        "wesnoth-music,musescore-midi with --split-shares 0/0/100 for a held-out test set")
    p.add_argument("--no-augment", action="store_true", help="skip the noise/reverb/gain scene augmentation")
    p.set_defaults(func=_run)
