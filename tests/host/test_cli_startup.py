"""Start-up: a command named on the command line loads only its own module and what it uses."""

from __future__ import annotations

import argparse
import os
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


def test_the_cli_runs_openblas_on_one_thread_unless_the_environment_says_otherwise() -> None:
    """One BLAS thread by default (a second one waiting on a busy core made small products 400x slower under
    load, host/bench/README.md); a user's OPENBLAS_NUM_THREADS wins."""
    pytest.importorskip("threadpoolctl")
    code = ("import host.cli, numpy, threadpoolctl\n"
            "print(sorted({i['num_threads'] for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas'}))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}

    def threads(extra: dict[str, str]) -> str:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                              env={**env, **extra}).stdout.strip()

    assert threads({}) == "[1]"
    assert threads({"OPENBLAS_NUM_THREADS": "2"}) == "[2]"
