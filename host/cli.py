"""The ``eqbridge`` console command: a thin argparse front over typed functions.

Exit codes: 0 done; 1 a user error (bad input, missing plugin or checkpoint...: one line on stderr);
2 a usage error (argparse: unknown command or option, wrong type); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from host.errors import EqbridgeError

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
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eqbridge", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is done (info and debug messages)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"host.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
