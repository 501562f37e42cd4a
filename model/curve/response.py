"""How the mel front end sees a filter: power response on a fine frequency grid -> gain in dB per mel band.

An EQ is linear and time-invariant, so for a stationary input with a locally smooth spectrum the expected
mel power after the EQ is the dry mel power times an effective band gain: the filter's |H|^2 smoothed by the
analysis window's power spectrum |W|^2 (20 ms Hann), then weighted by the band's mel filter. This module
builds that linear map once (mel bands x grid points, rows summing to one); the host evaluates each plugin's
|H|^2 on :func:`response_grid_hz` and multiplies. NumPy only: neither torch nor librosa is needed here.
"""

from __future__ import annotations

import functools

import numpy as np

from model.config import FeatureConfig
from model.mel_scale import mel_filterbank, mel_frequencies_hz

LINEAR_GRID_TOP_HZ = 1500.0      # below this the grid is uniform (the window kernel is ~200 Hz wide there)
LOG_POINTS_PER_OCTAVE = 96       # above it, log-spaced: filters are smooth relative to the spacing
KERNEL_HALF_WIDTH_BINS = 6.0     # |W|^2 is kept within this many FFT bins (Hann sidelobes beyond: < -60 dB)


def response_grid_hz(config: FeatureConfig = FeatureConfig(scale="linear")) -> np.ndarray:
    """Frequencies (G,) at which a filter's power response is sampled for :func:`mel_operator`."""
    step_hz = config.sample_rate / 16384.0
    linear = np.arange(step_hz, LINEAR_GRID_TOP_HZ, step_hz)
    nyquist_hz = config.sample_rate / 2.0
    n_log = int(np.floor(np.log2(nyquist_hz / LINEAR_GRID_TOP_HZ) * LOG_POINTS_PER_OCTAVE))
    log = LINEAR_GRID_TOP_HZ * np.power(2.0, np.arange(n_log + 1) / LOG_POINTS_PER_OCTAVE)
    return np.concatenate([linear, log[log < nyquist_hz]])


def _window_power_table(config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """(offsets_hz, |W|^2) of the periodic Hann analysis window, from a zero-padded FFT (0.17 Hz steps)."""
    n = np.arange(config.win_length)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / config.win_length)
    padded = 1 << 18
    return np.fft.rfftfreq(padded, 1.0 / config.sample_rate), np.abs(np.fft.rfft(window, padded)) ** 2


@functools.lru_cache(maxsize=4)
def mel_operator(config: FeatureConfig = FeatureConfig(scale="linear")) -> np.ndarray:
    """(M, G) non-negative matrix A with rows summing to 1: effective mel gain = A @ |H(grid)|^2.

    A = mel filterbank x (|W|^2 kernel from each grid point to each FFT bin, with the grid's quadrature
    weights); the same matrix gives 1 for a flat filter, so a band's gain is a weighted mean of |H|^2.
    """
    grid = response_grid_hz(config)
    widths = np.gradient(grid)                                         # quadrature weights (Hz)
    bin_hz = np.fft.rfftfreq(config.n_fft, 1.0 / config.sample_rate)   # (K,)
    fmax_hz = config.sample_rate / 2.0 if config.fmax_hz is None else config.fmax_hz
    fb = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.fmin_hz, fmax_hz)  # (M, K)
    half_hz = KERNEL_HALF_WIDTH_BINS * config.sample_rate / config.n_fft
    table_hz, table = _window_power_table(config)
    kernel = np.zeros((len(bin_hz), len(grid)))
    for k, f in enumerate(bin_hz):
        near = np.flatnonzero(np.abs(grid - f) <= half_hz)
        if near.size == 0:  # a bin between sparse high grid points: take the nearest one
            near = np.array([int(np.argmin(np.abs(grid - f)))])
        kernel[k, near] = np.interp(np.abs(grid[near] - f), table_hz, table) * widths[near]
    kernel /= np.maximum(kernel.sum(axis=1, keepdims=True), 1e-300)
    op = fb @ kernel
    return op / op.sum(axis=1, keepdims=True)


def mel_gain_db(power_response: np.ndarray, config: FeatureConfig = FeatureConfig(scale="linear")) -> np.ndarray:
    """Effective gain in dB per mel band, (..., M), of power responses |H|^2 on the grid, (..., G)."""
    gain = np.asarray(power_response, dtype=np.float64) @ mel_operator(config).T
    return 10.0 * np.log10(np.maximum(gain, 1e-30))


def mel_center_frequencies_hz(config: FeatureConfig = FeatureConfig(scale="linear")) -> np.ndarray:
    """Centre frequency of each mel band (M,)."""
    fmax_hz = config.sample_rate / 2.0 if config.fmax_hz is None else config.fmax_hz
    return mel_frequencies_hz(config.n_mels + 2, config.fmin_hz, fmax_hz)[1:-1]
