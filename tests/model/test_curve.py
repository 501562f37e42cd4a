"""The curve model: level invariance, an EQ's effect on the statistics, refusals, the sampler, training."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import signal

from host.plugins.filters import BandSetting, band_sos
from model import CurveTrainConfig, train_curve
from model.curve.data import (SPEECH_SHARE, FileSegments, PairSampler, RenderedStats, _source_weights, load_curve_data,
                              write_curve_data)
from model.curve.checkpoint import load_curve_checkpoint, write_ensemble
from model.curve.features import ClipStats, normalize, pair_input
from model.curve.inference import load_curve_model
from model.curve.network import CurveNetConfig
from model.curve.response import mel_gain_db, response_grid_hz
from model.errors import AudioInputError, CheckpointError, DatasetError

SR = 44100


def music_like(seconds: float, seed: int) -> np.ndarray:
    """Harmonic notes with decaying envelopes over a little noise: level varies like music's."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    out = 0.003 * rng.standard_normal(n)
    for start in np.arange(0.0, seconds, 0.25):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        seg = (t >= start) & (t < start + 0.5)
        env = np.exp(-(t[seg] - start) * 6.0)
        for k in range(1, 12):
            if f0 * k < SR / 2.2:
                out[seg] += env * 0.2 / k * np.sin(2 * np.pi * f0 * k * t[seg] + rng.uniform(0, 6.3))
    return out.astype(np.float32)


@pytest.fixture(scope="module")
def front() -> ClipStats:
    return ClipStats()


def test_statistics_are_level_invariant_after_normalizing(front: ClipStats) -> None:
    x = torch.from_numpy(music_like(4.0, 0))
    a, b, c = (normalize(front(x * g)[None]) for g in (1.0, 2.0, 0.5))
    assert torch.allclose(a, b, atol=1e-3) and torch.allclose(a, c, atol=1e-3)


def test_a_gain_shifts_every_level_channel_by_its_db_and_leaves_the_spread(front: ClipStats) -> None:
    x = torch.from_numpy(music_like(4.0, 1))
    s1, s2 = front(x), front(2.0 * x)
    assert torch.allclose(s2[:4] - s1[:4], torch.full_like(s1[:4], 6.0206), atol=1e-3)
    assert torch.allclose(s2[4], s1[4], atol=1e-3)


def test_an_eq_adds_its_effective_mel_gain_to_the_mean_level(front: ClipStats) -> None:
    """A +9 dB bell at 1 kHz (RBJ) on a 6 s clip: the mean-level channel moves by mel_gain_db of its |H|^2."""
    x = music_like(6.0, 2) + 0.02 * np.random.default_rng(3).standard_normal(6 * SR).astype(np.float32)
    sos = band_sos(BandSetting("peak", 1000.0, 9.0, 1.0, "Q"), SR)[None]
    y = signal.sosfilt(sos, x).astype(np.float32)
    _, h = signal.sosfreqz(sos, worN=response_grid_hz(), fs=SR)
    expected = mel_gain_db(np.abs(h) ** 2)
    moved = (front(torch.from_numpy(y))[0] - front(torch.from_numpy(x))[0]).numpy()
    assert expected.max() == pytest.approx(9.0, abs=0.3)
    assert np.mean(np.abs(moved - expected)) < 0.3


def test_mostly_silence_and_steady_noise_are_refused(front: ClipStats) -> None:
    quiet = np.zeros(10 * SR, np.float32)
    quiet[:SR // 2] = music_like(0.5, 4)
    with pytest.raises(AudioInputError, match="only 0.5"):
        front(torch.from_numpy(quiet), "reference")
    noise = 0.1 * np.random.default_rng(5).standard_normal(5 * SR).astype(np.float32)
    with pytest.raises(AudioInputError, match="steady noise"):
        front(torch.from_numpy(noise), "reference")


def write_synthetic_curve_data(root: Path, front: ClipStats, files: int = 6, seed: int = 0) -> Path:
    """Curve data from synthetic clips, with a bank of smooth random curves (sums of bumps in dB)."""
    rng = np.random.default_rng(seed)
    stats, segments, entries = [], [], []
    for i in range(files):
        x = torch.from_numpy(music_like(12.0, 10 + i))
        power = front.mel_power(x)
        rows = []
        for start_s in (0.0, 2.0, 4.0, 6.0, 8.0, 10.0):
            first = int(start_s / 0.003)
            rows.append(front.stats_of(power[:, first:first + 600]).numpy())
            segments.append((start_s, 1.8))
        split = "val" if i == files - 1 else "train"
        entries.append(FileSegments(f"clip{i}", "synthetic", "music", f"g{i}", split, len(stats), 6))
        stats.extend(rows)
    bands = np.arange(128)
    curves = np.stack([sum(rng.uniform(-9, 9) * np.exp(-0.5 * ((bands - rng.uniform(0, 128)) / rng.uniform(4, 30)) ** 2)
                           for _ in range(3)) for _ in range(200)])
    write_curve_data(root, np.stack(stats), np.asarray(segments), curves, entries, front.features, front.stats,
                     {"train_sources": ["synthetic"], "holdout_sources": []})
    return root


@pytest.fixture(scope="module")
def curve_data(tmp_path_factory, front: ClipStats) -> Path:
    return write_synthetic_curve_data(tmp_path_factory.mktemp("curve-data"), front)


def test_pairs_are_a_function_of_seed_and_step(curve_data: Path) -> None:
    data = load_curve_data(curve_data)
    a, b = PairSampler(data, "train", 7), PairSampler(data, "train", 7)
    for x, y in zip(a.batch(3, 16), b.batch(3, 16)):
        assert np.array_equal(x, y)
    assert not np.array_equal(a.batch(3, 16)[2], a.batch(4, 16)[2])


def test_speech_gets_its_share_and_music_sources_weigh_alike() -> None:
    files = ([FileSegments(f"s{i}", "speech", "speech", f"s{i}", "train", 0, 2) for i in range(3)]
             + [FileSegments(f"a{i}", "soundtrack", "music", f"a{i}", "train", 0, 2) for i in range(70)]
             + [FileSegments(f"b{i}", "loops", "music", f"b{i}", "train", 0, 2) for i in range(5)])
    w = _source_weights(files)
    assert w[:3].sum() == pytest.approx(SPEECH_SHARE)
    assert w[3:73].sum() == pytest.approx(w[73:].sum()) == pytest.approx((1 - SPEECH_SHARE) / 2)
    music_only = _source_weights(files[3:])
    assert music_only[:70].sum() == pytest.approx(0.5)


def test_pair_input_does_not_see_the_reference_level(curve_data: Path) -> None:
    track, ref, _ = PairSampler(load_curve_data(curve_data), "train", 0).batch(0, 8)
    t, r = torch.from_numpy(track), torch.from_numpy(ref)
    louder = r.clone()
    louder[:, :4] += 6.0
    assert torch.allclose(pair_input(t, r), pair_input(t, louder), atol=1e-4)


@pytest.fixture(scope="module")
def rendered_curve_data(tmp_path_factory, curve_data: Path) -> Path:
    """The synthetic curve data plus two 'renders' per segment: its statistics plus a curve of its own (a row's
    curve names its segment and render), a little noise, and a quarter of the renders refused (NaN, unusable)."""
    root = tmp_path_factory.mktemp("rendered-curve-data") / "data"
    shutil.copytree(curve_data, root)
    data = load_curve_data(root)
    rng = np.random.default_rng(1)
    stats = np.array(data.stats)
    n, s, m = stats.shape
    curves = rng.uniform(-6.0, 6.0, (n, 2, m)).astype(np.float32)
    rendered = np.repeat(stats[:, None], 2, axis=1) + rng.normal(0.0, 0.2, (n, 2, s, m)).astype(np.float32)
    rendered[:, :, :4] += curves[:, :, None]
    usable = rng.random((n, 2)) > 0.25
    rendered[~usable] = np.nan
    extra = {k: v for k, v in data.meta.items() if k not in ("format_version", "features", "stats", "files")}
    write_curve_data(root, stats, data.segments, data.curves, list(data.files), data.features, data.stats_config,
                     {**extra, "rendered": {"plugin": "synthetic", "renders": 2}},
                     RenderedStats("synthetic", rendered, curves, usable))
    return root


def _row(rows: np.ndarray, spread: np.ndarray) -> int:
    """The one row of ``rows`` (N, S, M) with this spread channel (a pair's scene leaves the spread alone)."""
    found = np.flatnonzero((rows[:, 4] == spread).all(axis=1))
    assert len(found) == 1
    return int(found[0])


def test_rendered_pairs_take_the_reference_and_its_curve_from_a_usable_render(rendered_curve_data: Path,
                                                                                curve_data: Path) -> None:
    data = load_curve_data(rendered_curve_data)
    r, dry = data.rendered, np.array(data.stats)
    track, ref, curve = PairSampler(data, "train", 0, "rendered").batch(0, 256)
    flat = (curve == 0.0).all(axis=1)
    assert 0 < flat.sum() < 40  # FLAT_SHARE of the pairs: 5%
    for t, x, c, is_flat in zip(track, ref, curve, flat):
        a = _row(dry, t[4])
        scene = t[0] - dry[a, 0]
        np.testing.assert_allclose(t[:4] - dry[a, :4], np.broadcast_to(scene, (4, scene.size)), atol=1e-4)
        if is_flat:  # the reference as recorded, in the same scene
            b = _row(dry, x[4])
            np.testing.assert_allclose(x[:4] - dry[b, :4], np.broadcast_to(scene, (4, scene.size)), atol=1e-4)
        else:  # a usable render's statistics, in the same scene, and that render's curve
            (b, k), = np.argwhere((r.curves == c).all(axis=-1))
            assert r.usable[b, k]
            np.testing.assert_allclose(x[:4] - r.stats[b, k, :4], np.broadcast_to(scene, (4, scene.size)), atol=1e-4)
            np.testing.assert_array_equal(x[4], r.stats[b, k, 4])
        owner = next(f for f in data.files if f.first <= a < f.first + f.count)
        assert a != b and owner.first <= b < owner.first + owner.count  # two parts of one recording
    analytic = PairSampler(data, "train", 0).batch(0, 256)[2]
    assert not any((r.curves == c).all(axis=-1).any() for c in analytic[~(analytic == 0).all(axis=1)][:20])
    with pytest.raises(DatasetError, match="curve-data --rendered"):
        PairSampler(load_curve_data(curve_data), "train", 0, "rendered")


SMALL = CurveTrainConfig(steps=6, batch_size=32, warmup_steps=2, checkpoint_every=3, val_every=3, val_batches=1,
                         network=CurveNetConfig(width=64, depth=1))


def test_a_resumed_run_equals_a_straight_run(curve_data: Path, tmp_path: Path) -> None:
    train_curve(curve_data, tmp_path / "straight.pt", SMALL, progress=False)
    train_curve(curve_data, tmp_path / "resumed.pt", SMALL.__class__(**{**SMALL.__dict__, "steps": 3}), progress=False)
    train_curve(curve_data, tmp_path / "resumed.pt", SMALL, progress=False)
    a = torch.load(tmp_path / "straight.last.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "resumed.last.pt", weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_pair_kind_is_recorded_and_a_resume_keeps_it(rendered_curve_data: Path, tmp_path: Path) -> None:
    rendered = SMALL.__class__(**{**SMALL.__dict__, "pairs": "rendered", "steps": 3})
    train_curve(rendered_curve_data, tmp_path / "r.pt", rendered, progress=False)
    saved = torch.load(tmp_path / "r.pt", weights_only=False)
    assert saved["pairs"] == "rendered" and saved["rendered_plugin"] == "synthetic"
    assert CurveTrainConfig.from_dict(saved["train_config"]).pairs == "rendered"
    with pytest.raises(CheckpointError, match="trained on rendered pairs"):
        train_curve(rendered_curve_data, tmp_path / "r.pt", SMALL, progress=False)
    # a run from before the pair kind trained on analytic pairs, and resumes as one
    train_curve(rendered_curve_data, tmp_path / "a.pt", SMALL.__class__(**{**SMALL.__dict__, "steps": 3}),
                progress=False)
    last = torch.load(tmp_path / "a.last.pt", weights_only=False)
    last["train_config"].pop("pairs")
    torch.save(last, tmp_path / "a.last.pt")
    assert train_curve(rendered_curve_data, tmp_path / "a.pt", SMALL, progress=False)[-1]["step"] == SMALL.steps


def test_training_beats_doing_nothing_on_held_out_files(curve_data: Path, tmp_path: Path) -> None:
    config = CurveTrainConfig(steps=200, batch_size=64, warmup_steps=10, val_every=200, val_batches=4,
                              network=CurveNetConfig(width=128, depth=1))
    last = train_curve(curve_data, tmp_path / "c.pt", config, progress=False)[-1]
    # Five short synthetic files: the two parts of a pair differ in notes more than real music does; 200 steps
    # come within a few percent of the spectrum ratio (the DSP fit's curve) and well below doing nothing.
    assert last["curve_mae_db"] < 0.92 * last["flat_mae_db"]


@pytest.fixture(scope="module")
def members(curve_data: Path, tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("members")
    paths = [root / f"m{seed}.pt" for seed in (0, 1)]
    for seed, path in zip((0, 1), paths):
        train_curve(curve_data, path, SMALL.__class__(**{**SMALL.__dict__, "seed": seed}), progress=False)
    return paths


def test_an_ensemble_averages_its_members_and_adds_their_disagreement_to_the_scale(
        curve_data: Path, members: list[Path], tmp_path: Path) -> None:
    out = write_ensemble(members, tmp_path / "ens.pt")
    ens, singles = load_curve_checkpoint(out), [load_curve_checkpoint(p) for p in members]
    track, ref, _ = PairSampler(load_curve_data(curve_data), "val", 0).batch(0, 16)
    x = pair_input(torch.from_numpy(track), torch.from_numpy(ref))
    with torch.inference_mode():
        (m0, s0), (m1, s1), (m, s) = singles[0].network(x), singles[1].network(x), ens.network(x)
    assert not torch.allclose(m0, m1, atol=1e-3)  # two seeds: two different networks
    torch.testing.assert_close(m, (m0 + m1) / 2)
    variance = (torch.exp(2 * s0) + torch.exp(2 * s1)) / 2 + ((m0 - m1) / 2) ** 2 / 2
    torch.testing.assert_close(s, 0.5 * torch.log(variance))
    # the torch-free twin reads the same ensemble and gives the same curves
    model = load_curve_model(out)
    median, scale = model.curves(track, ref)
    np.testing.assert_allclose(median, m.double().numpy(), atol=1e-4)
    np.testing.assert_allclose(scale, torch.exp(s).double().numpy(), rtol=1e-4)


def test_an_ensemble_refuses_what_would_mix_or_lose_files(members: list[Path], tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="given twice"):
        write_ensemble([members[0], members[0]], tmp_path / "e.pt")
    with pytest.raises(CheckpointError, match="is one of the members"):
        write_ensemble(members, members[1])
    with pytest.raises(CheckpointError, match="at least 2"):
        write_ensemble(members[:1], tmp_path / "e.pt")
    ens = write_ensemble(members, tmp_path / "e.pt")
    with pytest.raises(CheckpointError, match="ensemble already"):
        write_ensemble([ens, members[0]], tmp_path / "e2.pt")
    other = torch.load(members[1], weights_only=False)
    torch.save({**other, "data_digest": "another"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="differ in data_digest"):
        write_ensemble([members[0], tmp_path / "other.pt"], tmp_path / "e3.pt")
    assert not (tmp_path / "e3.pt").exists()
