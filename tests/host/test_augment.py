"""Scene augmentation (host/data/augment.py): each part of a scene does what its numbers say."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.signal

from host.data.augment import Scene, apply_scene, room_impulse_response
from tests.audio import synth_recording

SR = 44100
# A scene that does nothing but what a test switches on: 0 dB, no room, noise 200 dB down.
QUIET = Scene(gain_db=0.0, noise_snr_db=200.0, noise_tilt=0.0, reverb_rt60_s=0.3, reverb_wet=0.0, seed=1)


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2)))


def test_the_same_rng_draws_the_same_scene_and_its_values_lie_in_their_ranges() -> None:
    first = [Scene.random(np.random.default_rng(3)) for _ in range(2)]
    assert first[0] == first[1]
    scenes = [Scene.random(rng) for rng in [np.random.default_rng(4)] for _ in range(200)]
    assert len(set(scenes)) == 200
    assert all(-12.0 <= s.gain_db <= 0.0 and 25.0 <= s.noise_snr_db <= 60.0 and 0.0 <= s.noise_tilt <= 0.95
               and 0.1 <= s.reverb_rt60_s <= 0.8 and 0.0 <= s.reverb_wet <= 0.4 for s in scenes)
    dry = sum(s.reverb_wet == 0.0 for s in scenes)
    assert 70 <= dry <= 130  # half the rooms are dry (binomial(200, 0.5): 70..130 is beyond 4 sigma)


def test_the_same_scene_gives_the_same_audio() -> None:
    x = synth_recording(1.0, SR, seed=2)
    scene = Scene.random(np.random.default_rng(8))
    a, b = apply_scene([x, x[::-1].copy()], scene, SR), apply_scene([x, x[::-1].copy()], scene, SR)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    other = apply_scene([x, x[::-1].copy()], dataclasses.replace(scene, seed=scene.seed + 1), SR)
    assert not np.array_equal(a[0], other[0])


@pytest.mark.parametrize("gain_db", (-12.0, -6.0, -0.5))
def test_a_scenes_gain_changes_the_level_by_its_stated_db(gain_db: float) -> None:
    x = synth_recording(1.0, SR, seed=3)
    [y] = apply_scene([x], dataclasses.replace(QUIET, gain_db=gain_db), SR)
    assert _rms_db(y) - _rms_db(x) == pytest.approx(gain_db, abs=1e-3)
    np.testing.assert_allclose(y, x * 10 ** (gain_db / 20), atol=1e-6)  # and changes nothing else


@pytest.mark.parametrize("snr_db", (25.0, 40.0, 60.0))
def test_the_noise_sits_at_the_stated_snr_below_each_part(snr_db: float) -> None:
    parts = [synth_recording(1.0, SR, seed=4), 0.1 * synth_recording(1.0, SR, seed=5)]  # 20 dB apart
    out = apply_scene(parts, dataclasses.replace(QUIET, noise_snr_db=snr_db, noise_tilt=0.5), SR)
    for x, y in zip(parts, out):
        assert _rms_db(x) - _rms_db(y - x) == pytest.approx(snr_db, abs=0.01)


def test_the_noise_tilt_is_a_one_pole_low_pass() -> None:
    """Tilt a: H(z) = (1 - a) / (1 - a z^-1), flat at DC and (1 - a) / (1 + a) at Nyquist."""
    x = (0.1 * np.random.default_rng(6).standard_normal(4 * SR)).astype(np.float32)
    for tilt in (0.0, 0.9):
        [y] = apply_scene([x], dataclasses.replace(QUIET, noise_snr_db=0.0, noise_tilt=tilt), SR)
        freqs, psd = scipy.signal.welch(y - x, fs=SR, nperseg=4096)
        low, high = psd[(freqs > 40) & (freqs < 120)].mean(), psd[freqs > 20000].mean()
        _, h = scipy.signal.freqz([1 - tilt], [1, -tilt], worN=[80.0, 21000.0], fs=SR)
        expected_db = 20 * np.log10(abs(h[0]) / abs(h[1]))
        assert 10 * np.log10(low / high) == pytest.approx(expected_db, abs=1.0), tilt


@pytest.mark.parametrize("rt60_s", (0.2, 0.6))
def test_the_room_decays_60_db_in_its_rt60(rt60_s: float) -> None:
    """Schroeder backward integration of the impulse response: the -5 to -25 dB slope, extrapolated to
    -60 dB, is the stated decay time."""
    ir = room_impulse_response(rt60_s, SR, np.random.default_rng(7))
    assert np.sum(ir ** 2) == pytest.approx(1.0)
    edc = 10 * np.log10(np.cumsum(ir[::-1] ** 2)[::-1] / np.sum(ir ** 2))
    t = np.arange(len(ir)) / SR
    fit = (edc <= -5) & (edc >= -25)
    slope = np.polyfit(t[fit], edc[fit], 1)[0]  # dB per second
    assert -60.0 / slope == pytest.approx(rt60_s, rel=0.05)


def test_reverb_lengthens_an_impulse_and_a_dry_room_leaves_it_alone() -> None:
    impulse = np.zeros(SR, np.float32)
    impulse[100] = 1.0
    [dry] = apply_scene([impulse], QUIET, SR)
    assert np.max(np.abs(dry - impulse)) < 1e-6
    tails = {}
    for rt60_s in (0.2, 0.6):
        [wet] = apply_scene([impulse], dataclasses.replace(QUIET, reverb_wet=0.3, reverb_rt60_s=rt60_s), SR)
        assert np.abs(wet[:100]).max() < 1e-6  # nothing before the impulse (FFT round-off aside): causal
        tails[rt60_s] = _rms_db(wet[100 + int(0.15 * SR):100 + int(0.2 * SR)])  # 150..200 ms after it
        assert np.abs(wet[100 + int(rt60_s * SR) + 1:]).max() < 1e-6  # and it ends at the room's length
    assert tails[0.6] > tails[0.2] + 20.0  # there the rooms have decayed by 45..60 dB (0.2 s) and 15..20 dB (0.6 s)


def test_parts_of_equal_and_unequal_length_get_the_same_room() -> None:
    """Equal-length parts share one batched convolution; others are convolved one by one: same sound."""
    a, b = synth_recording(1.0, SR, seed=8), synth_recording(1.0, SR, seed=9)
    scene = dataclasses.replace(QUIET, reverb_wet=0.4, reverb_rt60_s=0.5, gain_db=-3.0)
    batched = apply_scene([a, b], scene, SR)
    one_by_one = apply_scene([a, b[: SR // 2]], scene, SR)
    np.testing.assert_allclose(one_by_one[0], batched[0], atol=1e-5)
    np.testing.assert_allclose(one_by_one[1], batched[1][: SR // 2], atol=1e-5)
