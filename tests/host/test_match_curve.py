"""The shipped curve model through the one pipeline: which model runs, level is not EQ, bad references."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from host.audio import read_audio
from host.matching.pipeline import MatchOptions, estimate
from model.profiles import CURVE_CHECKPOINT, load_profile
from tests.conftest import PROFILES
from tests.model.test_curve import music_like

ROOT = Path(__file__).resolve().parents[2]
CLIPS = ROOT / "examples" / "audio"


def _gains(profile, values: np.ndarray) -> np.ndarray:
    return np.array([values[profile.parameter_names.index(b.gain)] for b in profile.bands])


def test_the_curve_model_is_shipped_and_never_saw_the_held_out_sources() -> None:
    import torch

    payload = torch.load(CURVE_CHECKPOINT, map_location="cpu", weights_only=False)
    assert {"wesnoth-music", "musescore-midi"} <= set(payload["holdout_sources"])
    assert not set(payload["holdout_sources"]) & set(payload["trained_on"])


def test_auto_picks_the_curve_model_for_an_eq_and_the_classifier_otherwise() -> None:
    assert MatchOptions(load_profile("zameq2")).resolved_model() == "curve"
    assert MatchOptions(load_profile("zamcomp")).resolved_model() == "classifier"
    assert MatchOptions(load_profile("zameq2"), Path("some.pt")).resolved_model() == "classifier"


@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize("source", ["bundled", "synthetic"])
def test_a_reference_6_db_louder_or_quieter_gives_the_same_eq(name: str, source: str) -> None:
    profile = load_profile(name)
    if source == "bundled":
        track, ref = read_audio(CLIPS / "track.flac").mono(), read_audio(CLIPS / "reference.flac").mono()
    else:
        track, ref = music_like(5.0, 21), music_like(5.0, 22)
    options = MatchOptions(profile, model="curve")
    base = _gains(profile, estimate(track, ref, 44100, options).values)
    for gain in (2.0, 0.5):  # +6 and -6 dB
        moved = _gains(profile, estimate(track, gain * ref, 44100, options).values)
        assert np.max(np.abs(moved - base)) < 0.5, (gain, base, moved)


def _match(tmp_path: Path, reference: np.ndarray) -> subprocess.CompletedProcess:
    ref_path = tmp_path / "ref.wav"
    sf.write(ref_path, reference, 44100)
    return subprocess.run([sys.executable, "-m", "host.cli", "match", str(CLIPS / "track.flac"), str(ref_path),
                           "--out", str(tmp_path / "out.wav"), "--model", "curve"], capture_output=True, text=True,
                          cwd=ROOT)


def test_a_reference_of_mostly_silence_is_a_one_line_error(tmp_path: Path) -> None:
    quiet = np.zeros(10 * 44100, np.float32)
    quiet[:22050] = music_like(0.5, 3)
    result = _match(tmp_path, quiet)
    assert result.returncode == 1 and "only 0.5" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.wav").exists()


def test_a_reference_of_steady_noise_is_a_one_line_error(tmp_path: Path) -> None:
    noise = 0.1 * np.random.default_rng(0).standard_normal(5 * 44100).astype(np.float32)
    result = _match(tmp_path, noise)
    assert result.returncode == 1 and "steady noise" in result.stderr, result.stderr
    assert not (tmp_path / "out.wav").exists()


def test_restraint_scales_the_whole_curve_toward_flat_and_zero_keeps_the_median() -> None:
    from model import predict_curve

    track, reference = (read_audio(CLIPS / n).mono() for n in ("track.flac", "reference.flac"))
    plain = predict_curve(track, reference, 44100, restraint=0.0)
    np.testing.assert_array_equal(plain.curve_db, plain.median_db)
    curves = [predict_curve(track, reference, 44100, restraint=k).curve_db for k in (0.5, 1.0, 2.0)]
    for weaker, stronger in zip([plain.curve_db] + curves, curves):
        assert np.all(np.abs(stronger) <= np.abs(weaker) + 1e-12) and np.all(np.sign(stronger) * np.sign(weaker) >= 0)
    assert np.abs(curves[-1]).mean() < np.abs(plain.curve_db).mean()
    for curve in curves:  # one factor for every band: the curve keeps its shape
        factor = curve / np.where(plain.curve_db == 0.0, 1.0, plain.curve_db)
        np.testing.assert_allclose(factor, factor[0], rtol=1e-9)


@pytest.mark.parametrize("value", ["5", "-1", "nan"])
def test_a_restraint_out_of_range_is_a_one_line_error_before_any_work(tmp_path: Path, value: str) -> None:
    result = subprocess.run([sys.executable, "-m", "host.cli", "match", str(CLIPS / "track.flac"),
                             str(CLIPS / "reference.flac"), "--out", str(tmp_path / "out.wav"), "--restraint", value],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1 and "--restraint must lie in [0, 4]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out.wav").exists()
