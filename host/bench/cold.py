"""`eqbridge bench cold`: a cold ``eqbridge match`` of the bundled clips, a fresh process each time, against a
bare ``python -c "import numpy, soundfile"`` timed alternately in the same run; the figure is their ratio.

Both run as this Python (``sys.executable``) from this tree (``-m host.cli``, run in the repository root), with
the same environment; one untimed run of each goes first (the file cache, and the curve model's arrays beside
its checkpoint when a new checkpoint has landed).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from host.bench.report import BenchReport
from host.errors import BenchmarkError, OptionError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_AUDIO = ROOT / "examples" / "audio"
BASELINE_CODE = "import numpy, soundfile"
MAX_RUNS = 50


def match_command(plugin: str, out_dir: Path) -> list[str]:
    """The timed command: the README's first match (without the picture) on the bundled clips."""
    return [sys.executable, "-m", "host.cli", "match", str(EXAMPLE_AUDIO / "track.flac"),
            str(EXAMPLE_AUDIO / "reference.flac"), "--plugin", plugin, "--out", str(out_dir / "matched.flac"),
            "--settings-out", str(out_dir / "settings.json"), "--no-clip"]


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BenchmarkError(f"`{' '.join(command[1:4])} ...` exited {done.returncode}: {last}")
    return elapsed


def bench_cold(plugin: str = "faust-peq", n: int = 5) -> dict:
    """Median and min wall seconds of ``n`` cold matches and ``n`` bare starts, alternating, and their ratio.

    Raises:
        OptionError: ``n`` outside 1..MAX_RUNS. BenchmarkError: the match (or the bare start) failed.
    """
    if not 1 <= n <= MAX_RUNS:
        raise OptionError(f"-n must lie in 1..{MAX_RUNS}, got {n}")
    bare = [sys.executable, "-c", BASELINE_CODE]
    with tempfile.TemporaryDirectory(prefix="eqbridge-bench-cold-") as tmp:
        match = match_command(plugin, Path(tmp))
        _timed(bare), _timed(match)  # untimed first runs
        bare_s, match_s = [], []
        for _ in range(n):  # alternating, so load from outside hits both alike
            bare_s.append(_timed(bare))
            match_s.append(_timed(match))
    out = {"n": n, "plugin": plugin, "baseline": f"python -c {BASELINE_CODE!r}",
           "bare_median_s": statistics.median(bare_s), "bare_min_s": min(bare_s),
           "match_median_s": statistics.median(match_s), "match_min_s": min(match_s)}
    out["ratio"] = out["match_median_s"] / out["bare_median_s"]
    return out


def cold_report(result: dict) -> BenchReport:
    rows = ((result["baseline"], result["bare_median_s"], result["bare_min_s"], 1.0),
            ("eqbridge match, bundled clips", result["match_median_s"], result["match_min_s"], result["ratio"]))
    return BenchReport(f"bench cold: {result['plugin']}, {result['n']} fresh processes each, alternating",
                       ("what", "median s", "min s", "x bare"), rows, result)
