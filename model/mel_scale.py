"""The Slaney mel scale and its filterbank, as librosa makes them (``librosa.filters.mel`` with its defaults:
``htk=False``, ``norm="slaney"``), in NumPy: importing librosa takes seconds (numba), this takes none.

The same arithmetic in the same order as librosa 0.10-0.11, so the filterbank equals librosa's to float
rounding (tests/model/test_mel_scale.py checks it against librosa where librosa is installed).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

LINEAR_HZ_PER_MEL = 200.0 / 3      # below 1 kHz the Slaney scale is linear: 66.7 Hz per mel
LOG_START_HZ = 1000.0              # above it, logarithmic
LOG_START_MEL = LOG_START_HZ / LINEAR_HZ_PER_MEL
LOG_STEP = np.log(6.4) / 27.0      # natural-log step per mel in the log region


def hz_to_mel(freqs_hz: np.ndarray | float) -> np.ndarray:
    """Slaney mels of frequencies in Hz (same shape)."""
    f = np.asanyarray(freqs_hz, dtype=np.float64)
    mels = f / LINEAR_HZ_PER_MEL
    log_part = f >= LOG_START_HZ
    return np.where(log_part, LOG_START_MEL + np.log(np.where(log_part, f, LOG_START_HZ) / LOG_START_HZ) / LOG_STEP,
                    mels)


def mel_to_hz(mels: np.ndarray | float) -> np.ndarray:
    """Frequencies in Hz of Slaney mels (same shape)."""
    m = np.asanyarray(mels, dtype=np.float64)
    freqs = LINEAR_HZ_PER_MEL * m
    log_part = m >= LOG_START_MEL
    return np.where(log_part, LOG_START_HZ * np.exp(LOG_STEP * (m - LOG_START_MEL)), freqs)


def mel_frequencies_hz(n_mels: int, fmin_hz: float, fmax_hz: float) -> np.ndarray:
    """(n_mels,) frequencies in Hz evenly spaced in mels from ``fmin_hz`` to ``fmax_hz`` (both included)."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels))


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float = 0.0, fmax_hz: float | None = None,
                   dtype: type = np.float32) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters on the Slaney scale, each scaled to unit area per Hz
    (Slaney's norm: 2 / bandwidth), as ``librosa.filters.mel(sr=sample_rate, n_fft=..., n_mels=..., fmin=..., fmax=...)``."""
    fmax_hz = sample_rate / 2.0 if fmax_hz is None else fmax_hz
    weights = np.zeros((n_mels, n_fft // 2 + 1), dtype=dtype)
    fft_hz = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    edges_hz = mel_frequencies_hz(n_mels + 2, fmin_hz, fmax_hz)    # band i rises from edge i to i+1, falls to i+2
    widths_hz = np.diff(edges_hz)
    ramps = np.subtract.outer(edges_hz, fft_hz)                      # (n_mels + 2, bins)
    for i in range(n_mels):
        rising, falling = -ramps[i] / widths_hz[i], ramps[i + 2] / widths_hz[i + 1]
        weights[i] = np.maximum(0, np.minimum(rising, falling))     # stored in dtype, as librosa does
    weights *= (2.0 / (edges_hz[2:n_mels + 2] - edges_hz[:n_mels]))[:, np.newaxis]
    if not np.all((edges_hz[:-2] == 0) | (weights.max(axis=1) > 0)):
        log.warning("mel filterbank: some of the %d bands cover no FFT bin (n_fft %d at %d Hz); they stay silent",
                    n_mels, n_fft, sample_rate)
    return weights
