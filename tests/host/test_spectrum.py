"""host/spectrum.py: the average spectra every measure is built on, checked against known signals."""

from __future__ import annotations

import numpy as np
import pytest

from host.spectrum import fractional_octave_power, smoothed_spectrum_db, tonal_rms_distance_db, welch_psd

SR = 44100


def _sine(freq_hz: float, seconds: float = 2.0, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq_hz * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


@pytest.mark.parametrize("freq_hz", (100.0, 1000.0, 8000.0))
def test_a_sine_peaks_at_its_frequency_in_the_smoothed_spectrum(freq_hz: float) -> None:
    grid, level = smoothed_spectrum_db(_sine(freq_hz) + 1e-4 * np.random.default_rng(0).standard_normal(2 * SR), SR)
    assert grid[0] == pytest.approx(20.0) and grid[-1] == pytest.approx(SR / 2)
    peak = grid[np.argmax(level)]
    assert abs(np.log2(peak / freq_hz)) <= 1 / 12  # within 1/12 octave (the grid steps by ~1/24)
    assert level.max() - np.median(level) > 40.0


def test_the_smoothed_spectrum_of_white_noise_is_flat_at_its_density_and_follows_the_gain() -> None:
    """White noise of variance s^2 has the one-sided power density 2 s^2 / fs at every frequency."""
    noise = (0.1 * np.random.default_rng(1).standard_normal(4 * SR)).astype(np.float32)
    grid, level = smoothed_spectrum_db(noise, SR)
    density_db = 10 * np.log10(2 * 0.1 ** 2 / SR)  # -63.4 dB
    above = (grid > 200) & (grid < 20000)
    assert np.mean(level[above]) == pytest.approx(density_db, abs=0.2)
    assert np.max(np.abs(level[above] - density_db)) < 1.5  # the narrowest bands hold a few Welch bins
    _, louder = smoothed_spectrum_db(noise * 10 ** (6 / 20), SR)
    np.testing.assert_allclose(louder - level, 6.0, atol=1e-6)


def test_welch_power_of_a_sine_integrates_to_its_mean_square() -> None:
    freqs, psd = welch_psd(_sine(1000.0, amplitude=0.5), SR, 8192)
    assert np.sum(psd) * (freqs[1] - freqs[0]) == pytest.approx(0.5 ** 2 / 2, rel=0.02)


@pytest.mark.parametrize("n_samples,n_fft,channels", [(3 * SR, 8192, 0), (100_000, 4096, 2), (5000, 8192, 0),
                                                      (44_101, 1001, 1), (7 * SR, 8192, 2)])
def test_welch_is_scipys(n_samples: int, n_fft: int, channels: int) -> None:
    """The blockwise Welch equals scipy.signal.welch (Hann, half overlap, constant detrend, one-sided density)."""
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(n_samples)
    shape = (channels, n_samples) if channels else (n_samples,)
    audio = (np.cumsum(rng.standard_normal(shape), axis=-1) * 0.01 + 0.3).astype(np.float32)  # a tilt and an offset
    mono = audio.astype(np.float64).mean(axis=0) if channels else audio.astype(np.float64)
    freqs, psd = welch_psd(audio, SR, n_fft)
    their_freqs, theirs = signal.welch(mono, fs=SR, nperseg=min(n_fft, n_samples))
    np.testing.assert_array_equal(freqs, their_freqs)
    np.testing.assert_allclose(psd, theirs, rtol=1e-9, atol=0)


def test_fractional_octave_power_of_a_flat_density_is_that_density() -> None:
    psd = np.full(4097, 3.0)
    assert np.allclose(fractional_octave_power(psd, 5.0, np.array([100.0, 1000.0, 8000.0]), 1 / 3), 3.0)


def test_the_tonal_distance_ignores_level_and_sees_a_tilt() -> None:
    noise = (0.1 * np.random.default_rng(2).standard_normal(3 * SR)).astype(np.float32)
    assert tonal_rms_distance_db(noise, SR, 0.25 * noise, SR) == pytest.approx(0.0, abs=1e-6)
    tilted = np.cumsum(noise) * 0.01  # a -6 dB/octave tilt
    assert tonal_rms_distance_db(tilted, SR, noise, SR) > 10.0
