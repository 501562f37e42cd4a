"""The ``eqbridge`` console command: a thin argparse front over typed functions.

Exit codes: 0 done; 1 a user error (bad input, missing plugin or checkpoint...: one line on stderr);
2 a usage error (argparse: unknown command or option, wrong type); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# One OpenBLAS thread unless the environment says otherwise; set before NumPy loads OpenBLAS. The products here
# are small (a 10 s clip's mel filterbank, the curve network, the curve fit's responses) and the machines shared:
# a second BLAS thread waiting on a busy core made a 5 x 930 by 930 x 128 product 40 ms instead of 0.1 ms, and
# `eqbridge bench predict` 2.2x slower under load (host/bench/README.md). Torch keeps its own threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from host.errors import EqbridgeError  # noqa: E402  (after the thread setting)

USER_ERROR_EXIT = 1
USAGE_ERROR_EXIT = 2  # what argparse exits with

# Each name is a module in host/commands exposing register(subparsers).
COMMAND_MODULES: tuple[str, ...] = (
    "plugins",
    "render_dataset",
    "corpus",
    "bench",
    "match",
    "train",
    "evaluate",
    "evaluate_audio",
    "serve",
    "apply",
    "explore",
    "curve",
    "push",
)
# Command -> the module above that registers it (tests/host/test_cli_startup.py checks the two agree). A command
# named on the command line loads only its own module: `eqbridge match` never imports the corpus builder's
# SciPy or the trainer's modules, only what matching uses.
COMMANDS: dict[str, str] = {
    "plugins": "plugins", "render-dataset": "render_dataset", "corpus": "corpus", "bench": "bench", "match": "match",
    "train": "train", "evaluate": "evaluate", "evaluate-audio": "evaluate_audio", "serve": "serve", "apply": "apply",
    "explore": "explore", "curve-data": "curve", "train-curve": "curve", "combine-curves": "curve", "push": "push",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``command`` (a key of COMMANDS), a parser that knows only that command's module."""
    parser = argparse.ArgumentParser(prog="eqbridge", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is done (info and debug messages)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in (COMMANDS[command],) if command in COMMANDS else COMMAND_MODULES:
        importlib.import_module(f"host.commands.{name}").register(sub)
    return parser


def _named_command(argv: list[str]) -> str | None:
    """The command word (the first argument that is not an option), if it names a command."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_named_command(argv))
    args = parser.parse_args(argv)
    # Quiet by default: a user sees results (stdout), progress bars, warnings and the one-line error; -v logs all.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        result = args.func(args)
    except EqbridgeError as exc:
        print(f"eqbridge {args.command}: error: {exc}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print(f"eqbridge {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
