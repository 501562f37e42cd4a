"""Start-up: a command named on the command line loads only its own module and what it uses."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from host.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "scipy", "librosa", "numba", "matplotlib", "tqdm", "mido", "cma")


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_the_command_table_names_the_module_that_registers_each_command() -> None:
    assert _commands(build_parser()) == set(COMMANDS)
    for command in COMMANDS:
        assert command in _commands(build_parser(command))


def test_the_command_word_is_found_after_global_options(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["-v", "match", "--help"])
    assert exc.value.code == 0 and "usage: eqbridge match" in capsys.readouterr().out


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT).stdout.strip()


def test_parsing_match_loads_no_heavy_library() -> None:
    code = ("import sys; from host.cli import build_parser\n"
            "build_parser('match').parse_args(['match', 'a.wav', 'b.wav', '--out', 'c.wav'])\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    assert _fresh(code) == "[]"
