"""render-dataset --executor ray on a real local Ray cluster: same bytes as local, a killed worker loses nothing.

The cluster is started as separate processes (``ray start --head --block`` in its own session) on
127.0.0.1 with 2 CPUs, and the CLI connects to it with --address. Teardown signals only the processes of
that session, by id: ``ray stop`` would stop every Ray process on the machine, other users' included.
Skipped when Ray is not installed, unless EQBRIDGE_REQUIRE_RAY=1 (then a failure).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from host.data.dataset import MANIFEST, DatasetConfig, render_dataset
from host.errors import DatasetError
from tests.audio import write_folder

CLUSTER_START_S = 180.0   # a loaded 2-core machine can take a minute to bring Ray up
RUN_TIMEOUT_S = 300.0
# A local test cluster on 127.0.0.1: no token authentication, no usage report.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
SMALL = dict(iterations=6, segments=3, segment_s=0.5, seed=7)
KILL = dict(iterations=24, segments=4, segment_s=0.5, seed=3)


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("EQBRIDGE_REQUIRE_RAY") == "1":
            raise
        return False
    return True


requires_ray = pytest.mark.skipif(not _ray_available(),
                                  reason="Ray is not installed: pip install 'eqbridge[cluster]' "
                                         "(set EQBRIDGE_REQUIRE_RAY=1 to make this a failure)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_pids(sid: int) -> list[int]:
    """Live processes of one session (the Ray head we started and everything it spawned)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if os.getsid(int(entry.name)) == sid and stat.rsplit(")", 1)[1].split()[0] != "Z":
                    pids.append(int(entry.name))
            except (OSError, IndexError):
                continue
    return pids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue


@pytest.fixture(scope="module")
def ray_cluster():
    """A Ray head on 127.0.0.1 with 2 CPUs; yields (address, session id of its processes)."""
    temp = Path(tempfile.mkdtemp(prefix="eqb-ray-"))  # short: Ray's socket paths must fit 107 bytes
    port = _free_port()
    log_path = temp / "ray-start.log"
    with open(log_path, "w") as log_file:
        head = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head", f"--port={port}",
                                 "--node-ip-address=127.0.0.1", "--num-cpus=2", "--include-dashboard=false",
                                 "--disable-usage-stats", f"--temp-dir={temp}", "--block"],
                                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **RAY_ENV})
    try:
        deadline = time.monotonic() + CLUSTER_START_S
        while "Ray runtime started" not in log_path.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start did not come up:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"127.0.0.1:{port}", head.pid
    finally:
        deadline = time.monotonic() + 30  # a throwaway cluster: SIGKILL, until nothing of it is left
        while (pids := _session_pids(head.pid)) and time.monotonic() < deadline:
            _signal_all(pids, signal.SIGKILL)
            time.sleep(0.2)
        head.wait(timeout=30)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> Path:
    return write_folder(tmp_path_factory.mktemp("audio"), groups=4, per_group=2, seconds=4.0)


def shard_hashes(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*.npz"))}


def _cli(audio_dir: Path, out: Path, settings: dict, address: str) -> list[str]:
    return [sys.executable, "-m", "host.cli", "render-dataset", "--plugin", "faust-peq", "--audio", str(audio_dir),
            "--out", str(out), "--iterations", str(settings["iterations"]), "--segments", str(settings["segments"]),
            "--segment-seconds", str(settings["segment_s"]), "--seed", str(settings["seed"]),
            "--executor", "ray", "--address", address, "--workers", "2"]


def _run_cli(cmd: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env={**os.environ, **RAY_ENV})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@requires_ray
def test_ray_cluster_gives_the_local_dataset(ray_cluster, audio_dir, tmp_path):
    address, _ = ray_cluster
    render_dataset(DatasetConfig(profile="faust-peq", **SMALL), audio_dir, tmp_path / "local", progress=False)
    done = _run_cli(_cli(audio_dir, tmp_path / "ray", SMALL, address))
    assert f"({SMALL['iterations']} rendered now" in done.stdout
    local = json.loads((tmp_path / "local" / MANIFEST).read_text())
    remote = json.loads((tmp_path / "ray" / MANIFEST).read_text())
    assert remote["shards"] == local["shards"] and remote["config"] == local["config"]
    assert remote == local
    hashes = shard_hashes(tmp_path / "ray")
    assert len(hashes) == SMALL["iterations"] and hashes == shard_hashes(tmp_path / "local")


@requires_ray
def test_killing_a_worker_mid_run_loses_no_shard(ray_cluster, audio_dir, tmp_path):
    address, sid = ray_cluster
    render_dataset(DatasetConfig(profile="faust-peq", **KILL), audio_dir, tmp_path / "local", progress=False)
    out = tmp_path / "ray"
    proc = subprocess.Popen(_cli(audio_dir, out, KILL, address), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **RAY_ENV})
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while len(list(out.rglob("shard-*.npz"))) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "the ray run ended before any shard"
            time.sleep(0.05)
        actors = [pid for pid in _session_pids(sid) if _cmdline(pid).startswith("ray::ShardActor")]
        assert actors, "no ShardActor worker process found in the test cluster"
        os.kill(actors[0], signal.SIGKILL)
        partial = len(list(out.rglob("shard-*.npz")))
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert partial < KILL["iterations"], "the kill should land mid-run"
    assert proc.returncode == 0, stderr[-3000:]
    assert f"({KILL['iterations']} rendered now" in stdout  # Ray restarted the actor and retried its shards
    assert shard_hashes(out) == shard_hashes(tmp_path / "local")
    rerun = _run_cli(_cli(audio_dir, out, KILL, address))
    assert "(0 rendered now" in rerun.stdout


def test_ray_missing_is_an_error_naming_the_extra(audio_dir, tmp_path, monkeypatch):
    from host.errors import ClusterError

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ClusterError, match=r"eqbridge\[cluster\]"):
        render_dataset(DatasetConfig(profile="faust-peq", **SMALL), audio_dir, tmp_path / "ds", progress=False,
                       executor="ray")
    assert not (tmp_path / "ds").exists(), "nothing is written before the executor is checked"


def test_bad_executor_settings(audio_dir, tmp_path):
    config = DatasetConfig(profile="faust-peq", **SMALL)
    with pytest.raises(DatasetError, match="--executor must be one of local, ray, got 'dask'"):
        render_dataset(config, audio_dir, tmp_path / "ds", progress=False, executor="dask")
    with pytest.raises(DatasetError, match="--address 10.0.0.1:6379 needs --executor ray"):
        render_dataset(config, audio_dir, tmp_path / "ds", progress=False, address="10.0.0.1:6379")
