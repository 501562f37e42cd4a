"""Worker processes end with their parent: `kill -9` of `apply --workers 2` leaves no worker running,
and a rerun finishes with the same bytes as an uninterrupted run (real processes, real plugins)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.audio import synth_recording

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "examples" / "audio" / "reference.flac"
SR = 44100


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        out |= {int(c) for c in text.split()}
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _stems(folder: Path, n: int = 6, seconds: float = 4.0) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        sf.write(folder / f"stem{i:02d}.wav", synth_recording(seconds, SR, seed=i), SR, subtype="PCM_24")
    return folder


def _apply(stems: Path, out: Path, workers: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "host.cli", "apply", "--reference", str(REFERENCE), "--stems",
                             str(stems), "--out", str(out), "--workers", str(workers)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_kill_9_of_apply_ends_its_workers_and_a_rerun_gives_the_same_bytes(tmp_path: Path) -> None:
    stems = _stems(tmp_path / "stems")
    clean = _apply(stems, tmp_path / "clean", workers=1)
    assert clean.wait(300) == 0, clean.stderr.read()
    proc = _apply(stems, tmp_path / "killed", workers=2)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((tmp_path / "killed").glob("*.settings.json")):
        time.sleep(0.05)  # the workers are up and have finished a stem
    workers = _children(proc.pid)
    assert len(workers) >= 2, "apply --workers 2 started its worker processes"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    gone_by = time.monotonic() + 2.0
    while time.monotonic() < gone_by and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)], "every worker ended within 2 s of its parent"
    (tmp_path / "killed" / ".stem03.png.abc123xy.png").write_bytes(b"")  # what a kill mid-write leaves
    rerun = _apply(stems, tmp_path / "killed", workers=2)
    assert rerun.wait(300) == 0, rerun.stderr.read()
    for stem in sorted(stems.iterdir()):
        a, b = (np.asarray(sf.read(d / stem.name, dtype="int32")[0]) for d in (tmp_path / "clean", tmp_path / "killed"))
        assert np.array_equal(a, b), stem.name
    assert not [p for p in (tmp_path / "killed").iterdir() if p.name.startswith(".")], "no temporary file left"
