"""Dataset rendering through real plugins: content, re-rendering, splits, resume and bad input."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from host.data import corpus
from host.data.corpus import AudioFile
from host.data.dataset import MANIFEST, DatasetConfig, assign_groups, plan_shards, render_dataset, split_groups
from model.manifest import read_manifest
from host.errors import AudioInputError, DatasetError, ProfileError
from model.profiles import load_profile
from tests.audio import write_folder
from tests.conftest import require_host

SMALL = dict(iterations=6, segments=3, segment_s=0.5, seed=7)


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> Path:
    return write_folder(tmp_path_factory.mktemp("audio"), groups=4, per_group=2, seconds=4.0)


def shard_hashes(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*.npz"))}


def test_rows_re_render_bit_identically_from_stored_settings(profile_name, audio_dir, tmp_path):
    host = require_host(profile_name)
    config = DatasetConfig(profile=profile_name, **SMALL)
    render_dataset(config, audio_dir, tmp_path / "ds", progress=False)
    manifest = read_manifest(tmp_path / "ds")
    profile = load_profile(profile_name)
    assert manifest.profile_name == profile_name and manifest.profile_sha256 == profile.sha256
    assert manifest.parameter_names == profile.parameter_names
    assert manifest.parameter_indices == tuple(host.parameter_indices)
    assert sum(s.rows for s in manifest.shards) == 18
    for shard in manifest.shards:
        data = np.load(tmp_path / "ds" / shard.path)
        n = config.segment_samples
        for key in ("x", "ref", "y"):
            assert data[key].shape == (3, n) and data[key].dtype == np.float32
        assert data["param_bins"].min() >= 0 and data["param_bins"].max() <= 20
        assert np.allclose(data["params"], profile.from_bins(data["param_bins"]))
        assert np.allclose(data["params_norm"], profile.to_norm(data["params"]))
        for i in range(3):
            assert np.array_equal(host.render(data["x"][i], normalized=data["params_norm"][i]), data["y"][i])
        # The EQ did something: target differs from input wherever some gain is non-zero.
        assert not np.allclose(data["x"], data["y"])


def test_reference_is_other_material_than_the_input(audio_dir, tmp_path):
    render_dataset(DatasetConfig(profile="faust-peq", **SMALL), audio_dir, tmp_path / "ds", progress=False)
    data = np.load(next((tmp_path / "ds").rglob("*.npz")))
    for i in range(3):
        c = np.corrcoef(data["x"][i], data["ref"][i])[0, 1]
        assert abs(c) < 0.5


def test_splits_are_by_recording_group(audio_dir, tmp_path):
    config = DatasetConfig(profile="faust-peq", iterations=10, segments=2, segment_s=0.5, seed=1)
    render_dataset(config, audio_dir, tmp_path / "ds", progress=False)
    shards = read_manifest(tmp_path / "ds").shards
    groups = {split: set() for split in ("train", "val", "test")}
    for shard in shards:
        groups[shard.split].update(shard.groups)
        assert shard.path.startswith(shard.split + "/")
    assert groups["train"] and groups["test"]
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"])
    assert not (groups["val"] & groups["test"])


def test_same_seed_same_bytes_and_workers_agree(audio_dir, tmp_path):
    config = DatasetConfig(profile="faust-peq", **SMALL)
    render_dataset(config, audio_dir, tmp_path / "a", progress=False)
    render_dataset(config, audio_dir, tmp_path / "b", workers=2, progress=False)
    assert shard_hashes(tmp_path / "a") == shard_hashes(tmp_path / "b")
    other = DatasetConfig(profile="faust-peq", **{**SMALL, "seed": 8})
    render_dataset(other, audio_dir, tmp_path / "c", progress=False)
    assert shard_hashes(tmp_path / "a") != shard_hashes(tmp_path / "c")


def test_resume_after_a_kill_gives_the_uninterrupted_dataset(audio_dir, tmp_path):
    args = ["--plugin", "faust-peq", "--audio", str(audio_dir), "--iterations", "40", "--segments", "4",
            "--segment-seconds", "0.5", "--seed", "3"]
    cmd = [sys.executable, "-m", "host.cli", "render-dataset"]
    subprocess.run(cmd + args + ["--out", str(tmp_path / "full")], check=True, capture_output=True)
    proc = subprocess.Popen(cmd + args + ["--out", str(tmp_path / "killed")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list((tmp_path / "killed").rglob("shard-*.npz"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(list((tmp_path / "killed").rglob("shard-*.npz")))
    assert 0 < partial < 40, "the kill should land mid-run"
    done = subprocess.run(cmd + args + ["--out", str(tmp_path / "killed")], check=True, capture_output=True, text=True)
    assert f"{40 - partial} rendered now" in done.stdout
    assert shard_hashes(tmp_path / "killed") == shard_hashes(tmp_path / "full")
    killed = json.loads((tmp_path / "killed" / MANIFEST).read_text())
    full = json.loads((tmp_path / "full" / MANIFEST).read_text())
    assert killed["shards"] == full["shards"] and killed["config"] == full["config"]


def test_rerun_with_other_settings_into_the_same_folder_is_refused(audio_dir, tmp_path):
    render_dataset(DatasetConfig(profile="faust-peq", **SMALL), audio_dir, tmp_path / "ds", progress=False)
    with pytest.raises(DatasetError, match="different config"):
        render_dataset(DatasetConfig(profile="faust-peq", **{**SMALL, "segments": 4}), audio_dir, tmp_path / "ds",
                       progress=False)


def test_unknown_plugin(audio_dir, tmp_path):
    with pytest.raises(ProfileError, match="unknown plugin profile 'nope'"):
        render_dataset(DatasetConfig(profile="nope", **SMALL), audio_dir, tmp_path / "ds", progress=False)


def test_missing_and_empty_folders(tmp_path):
    config = DatasetConfig(profile="faust-peq", **SMALL)
    with pytest.raises(AudioInputError):
        render_dataset(config, tmp_path / "nowhere", tmp_path / "ds", progress=False)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no audio here")
    with pytest.raises(AudioInputError):
        render_dataset(config, tmp_path / "empty", tmp_path / "ds", progress=False)


def test_unreadable_audio_is_a_clear_error(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.raises(AudioInputError, match="no readable audio"):
        render_dataset(DatasetConfig(profile="faust-peq", **SMALL), tmp_path / "bad", tmp_path / "ds", progress=False)


def test_clips_shorter_than_a_segment(tmp_path):
    write_folder(tmp_path / "short", groups=1, per_group=2, seconds=0.6)
    with pytest.raises(AudioInputError, match="long enough"):
        render_dataset(DatasetConfig(profile="faust-peq", **SMALL), tmp_path / "short", tmp_path / "ds",
                       progress=False)


def test_cli_reports_errors_on_one_line(tmp_path):
    (tmp_path / "audio").mkdir()  # --out beside it: inside it would be refused first (tests/host/test_reliability.py)
    proc = subprocess.run([sys.executable, "-m", "host.cli", "render-dataset", "--plugin", "nope", "--audio",
                           str(tmp_path / "audio"), "--out", str(tmp_path / "o"), "--iterations", "1"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "unknown plugin profile 'nope'" in proc.stderr


# ----------------------------------------------------------------------------- --holdout


def _files(sources: tuple[str, ...], groups_per_source: int = 5) -> list[AudioFile]:
    return [AudioFile(path=Path(f"/corpus/{s}/{g}.flac"), group=f"{s}:{g}", source=s, kind="music",
                      duration_s=30.0, sample_rate=44100, channels=1, license="MIT")
            for s in sources for g in range(groups_per_source)]


def test_holdout_sources_plan_only_into_test():
    files = _files(("a", "b", "c"))
    config = DatasetConfig(profile="faust-peq", iterations=40, segments=2, holdout_sources=("b",))
    held = {str(f.path) for f in files if f.source == "b"}
    plans = plan_shards(files, config)
    assert {p.split for p in plans} == {"train", "val", "test"}
    for plan in plans:
        assert held <= set(plan.files) if plan.split == "test" else not held & set(plan.files)
    # The other sources split as before, by group, and without --holdout nothing changes.
    rest = [f.group for f in files if f.source != "b"]
    assert {g: s for g, s in split_groups(files, config).items() if not g.startswith("b:")} == \
        assign_groups(rest, config.split, config.seed)
    plain = DatasetConfig(profile="faust-peq", iterations=40, segments=2)
    assert split_groups(files, plain) == assign_groups([f.group for f in files], plain.split, plain.seed)


def test_holdout_needs_a_known_source_and_a_test_share():
    with pytest.raises(DatasetError, match="--holdout nope: no usable recording has that source.*a, b"):
        plan_shards(_files(("a", "b")), DatasetConfig(profile="faust-peq", iterations=4, segments=2,
                                                      holdout_sources=("nope",)))
    with pytest.raises(DatasetError, match="gives test no share"):
        DatasetConfig(profile="faust-peq", iterations=4, segments=2, split=(80, 20, 0), holdout_sources=("a",))


def test_cli_rejects_an_unknown_holdout_source_before_any_work(audio_dir, tmp_path):
    out = tmp_path / "ds"
    proc = subprocess.run([sys.executable, "-m", "host.cli", "render-dataset", "--audio", str(audio_dir), "--out",
                           str(out), "--iterations", "2", "--holdout", "wesnoth-music"], capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0
    assert "--holdout wesnoth-music" in proc.stderr and "user" in proc.stderr
    assert not out.exists()


HOLDOUT_SOURCES = ("loops", "speech")


@pytest.fixture(scope="module")
def two_source_corpus(tmp_path_factory) -> Path:
    missing = [m for n in HOLDOUT_SOURCES for m in corpus.SOURCES[n].missing_packages()]
    if missing:
        if os.environ.get("EQBRIDGE_REQUIRE_PLUGINS") == "1":
            pytest.fail(f"Debian package(s) {missing} not installed")
        pytest.skip(f"Debian package(s) {missing} not installed (apt-get install -y {' '.join(missing)})")
    out = tmp_path_factory.mktemp("two-source-corpus")
    corpus.build_corpus(out, sources=HOLDOUT_SOURCES, max_files=3, seed=0, progress=False)
    return out


def test_holdout_renders_the_held_out_source_only_in_test(two_source_corpus, tmp_path):
    held_out = corpus.SOURCES["loops"].source_id
    config = DatasetConfig(profile="faust-peq", iterations=12, segments=2, segment_s=0.5, seed=2,
                           holdout_sources=(held_out,))
    render_dataset(config, two_source_corpus, tmp_path / "ds", progress=False)
    manifest = read_manifest(tmp_path / "ds")
    assert manifest.config["holdout_sources"] == [held_out]
    held_groups = {e.group for e in corpus.read_manifest(two_source_corpus) if e.source == held_out}
    groups = {split: set() for split in ("train", "val", "test")}
    for shard in manifest.shards:
        groups[shard.split].update(shard.groups)
    assert held_groups and held_groups <= groups["test"]
    assert not held_groups & (groups["train"] | groups["val"]) and groups["train"]
    # A rerun resumes; another holdout into the same folder is a different dataset.
    assert render_dataset(config, two_source_corpus, tmp_path / "ds", progress=False).shards_rendered == 0
    with pytest.raises(DatasetError, match="different config"):
        render_dataset(DatasetConfig(profile="faust-peq", iterations=12, segments=2, segment_s=0.5, seed=2),
                       two_source_corpus, tmp_path / "ds", progress=False)


def test_a_dataset_from_before_holdout_still_resumes(audio_dir, tmp_path):
    config = DatasetConfig(profile="faust-peq", **SMALL)
    render_dataset(config, audio_dir, tmp_path / "ds", progress=False)
    path = tmp_path / "ds" / MANIFEST
    raw = json.loads(path.read_text())
    del raw["config"]["holdout_sources"]  # as written before --holdout existed
    path.write_text(json.dumps(raw))
    next((tmp_path / "ds").rglob("shard-*.npz")).unlink()
    assert render_dataset(config, audio_dir, tmp_path / "ds", progress=False).shards_rendered == 1


def test_sources_renders_only_the_named_sources(two_source_corpus, tmp_path):
    # The held-out test set on its own: only the named source, every shard in test.
    loops = corpus.SOURCES["loops"].source_id
    config = DatasetConfig(profile="faust-peq", iterations=3, segments=2, segment_s=0.5, seed=2,
                           split=(0.0, 0.0, 100.0), sources=(loops,))
    render_dataset(config, two_source_corpus, tmp_path / "ds", progress=False)
    manifest = read_manifest(tmp_path / "ds")
    loop_groups = {e.group for e in corpus.read_manifest(two_source_corpus) if e.source == loops}
    assert {s.split for s in manifest.shards} == {"test"}
    assert set().union(*(s.groups for s in manifest.shards)) <= loop_groups
    with pytest.raises(AudioInputError, match="--sources nope: no recording .* has that source"):
        render_dataset(DatasetConfig(profile="faust-peq", iterations=3, segments=2, segment_s=0.5,
                                     sources=("nope",)), two_source_corpus, tmp_path / "ds2", progress=False)
    assert not (tmp_path / "ds2").exists()
