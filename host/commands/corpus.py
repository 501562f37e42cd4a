"""``eqbridge corpus build``: assemble an offline audio corpus from installed Debian packages."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from host.data.corpus import ALL_SOURCES, DEFAULT_SOURCES, SOURCES, build_corpus, resolve_source_names

log = logging.getLogger(__name__)


def _source_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in SOURCES and n != ALL_SOURCES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown source(s) {unknown or text!r}; choose from {','.join(SOURCES)} or {ALL_SOURCES}")
    return resolve_source_names(names)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_build(args: argparse.Namespace) -> int:
    report = build_corpus(args.out, sources=args.sources, max_files=args.max_files,
                          seed=args.seed, progress=not args.no_progress)
    if report.skipped_sources:
        log.warning("built without the unavailable source(s): %s", ", ".join(report.skipped_sources))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("corpus", help="build an offline audio corpus",
                                   description=__doc__)
    actions = parser.add_subparsers(dest="corpus_command", required=True)
    build = actions.add_parser(
        "build", help="render corpus files and manifest.json (resumes an earlier run)",
        description="Speech from ktuberling-data, loops from sonic-pi-samples, rendered MIDI "
                    "(fluidsynth + fluid-soundfont-gm), game soundtracks (wesnoth-1.16-music, ufoai-music, "
                    "singularity-music, planetblupi-music-ogg) and styled MIDI pieces with stems "
                    "(fluidsynth + musescore-general-soundfont). A source whose package is missing is "
                    "skipped with a warning.")
    build.add_argument("--out", type=Path, required=True, help="corpus folder to create or resume")
    build.add_argument("--sources", type=_source_list, default=DEFAULT_SOURCES,
                       help=f"comma-separated subset of {','.join(SOURCES)}, or {ALL_SOURCES} for every "
                            f"one (default: {','.join(DEFAULT_SOURCES)})")
    build.add_argument("--max-files", type=_positive_int, default=None,
                       help="at most N files per source (default: all)")
    build.add_argument("--seed", type=int, default=0, help="seed for word order, gaps, MIDI pieces")
    build.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    build.set_defaults(func=run_build)
