"""Average spectra, in one place: Welch power spectra, their mel and fractional-octave band powers, and
the tonal distance built on them.

Every average-spectrum measure in eqbridge comes from here: refinement's objective
(``host.matching.refine``), the curve pictures (``host.matching.plot``), ``apply``'s report and the DSP
EQ-match fit (``host.evaluation.dsp_fit``). Distances carry their measure and unit in their names:
``tonal_rms_db`` (RMS over mel bands of the mean-removed average log-mel spectra, dB) is not the
framewise ``host.evaluation.metrics.mel_stft_nepers`` (mean over frames and bands, nepers).
"""

from __future__ import annotations

import functools

import numpy as np

from model import mel_scale

TONAL_N_MELS = 64          # apply's report: mel bands of the tonal distance
TONAL_FMIN_HZ = 40.0
TONAL_FMAX_HZ = 16000.0
TONAL_N_FFT = 4096
FLOOR_POWER = 1e-20        # power floor before taking dB (-200 dB)
WELCH_BLOCK_SEGMENTS = 128  # Welch segments transformed at a time (a few MB), whatever the clip's length


def welch_psd(audio: np.ndarray, sample_rate: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """(freqs_hz (n_fft//2+1,), power spectral density) of a clip, Welch-averaged over Hann segments.

    ``audio`` is (samples,) or (channels, samples) (channels are averaged); a clip shorter than ``n_fft``
    uses one segment of its own length. The same as ``scipy.signal.welch(x, fs=sample_rate, nperseg=n_fft)``
    (periodic Hann, half overlap, each segment's mean removed, one-sided density; tests/host/test_spectrum.py
    checks it), computed in float64 a block of segments at a time: a 10-minute track needs no copy of itself
    per segment, and no SciPy import.
    """
    x = np.asarray(audio)
    x = x.mean(axis=0, dtype=np.float64) if x.ndim == 2 else x
    nperseg = min(n_fft, x.shape[0])
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(nperseg) / nperseg)
    segments = np.lib.stride_tricks.sliding_window_view(x, nperseg)[::nperseg - nperseg // 2]  # a view
    total = np.zeros(nperseg // 2 + 1)
    for first in range(0, len(segments), WELCH_BLOCK_SEGMENTS):
        block = segments[first:first + WELCH_BLOCK_SEGMENTS].astype(np.float64)
        block -= block.mean(axis=1, keepdims=True)
        spec = np.fft.rfft(block * window, axis=1)
        total += (spec.real ** 2 + spec.imag ** 2).sum(axis=0)
    psd = total / (len(segments) * sample_rate * np.sum(window ** 2))
    psd[1:nperseg // 2 if nperseg % 2 == 0 else None] *= 2.0  # one-sided: all but DC (and Nyquist) twice
    return np.fft.rfftfreq(nperseg, 1.0 / sample_rate), psd


@functools.lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float,
                   fmax_hz: float | None = None) -> np.ndarray:
    """(n_mels, n_fft//2+1) float64 Slaney mel filterbank (librosa's, model.mel_scale), cached; read-only."""
    bank = mel_scale.mel_filterbank(sample_rate, n_fft, n_mels, fmin_hz, fmax_hz).astype(np.float64)
    bank.setflags(write=False)
    return bank


def power_db(power: np.ndarray, floor: float = FLOOR_POWER) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, floor))


def fractional_octave_power(psd: np.ndarray, bin_hz: float, centres_hz: np.ndarray, width_oct: float) -> np.ndarray:
    """Mean power spectral density over [f 2^-w/2, f 2^w/2] around each centre (at least one bin)."""
    cumulative = np.concatenate([[0.0], np.cumsum(psd)])
    lo = np.floor(centres_hz * 2.0 ** (-width_oct / 2) / bin_hz).astype(int)
    hi = np.ceil(centres_hz * 2.0 ** (width_oct / 2) / bin_hz).astype(int)
    lo, hi = np.clip(lo, 0, len(psd) - 1), np.clip(np.maximum(hi, lo + 1), 1, len(psd))
    return (cumulative[hi] - cumulative[lo]) / (hi - lo)


def average_spectrum_db(audio: np.ndarray, sample_rate: int, n_fft: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """(freqs_hz, level_db) of the Welch-averaged power spectrum of a clip."""
    freqs, psd = welch_psd(audio, sample_rate, n_fft)
    return freqs, power_db(psd)


def smoothed_spectrum_db(audio: np.ndarray, sample_rate: int, fraction: float = 6.0,
                         points: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """Average spectrum on a log-frequency grid, 1/fraction-octave smoothed (power average per band)."""
    freqs, level = average_spectrum_db(audio, sample_rate)
    power = 10.0 ** (level / 10.0)
    grid = np.geomspace(20.0, sample_rate / 2.0, points)
    out = np.empty(points)
    for i, f in enumerate(grid):
        band = (freqs >= f * 2 ** (-0.5 / fraction)) & (freqs <= f * 2 ** (0.5 / fraction))
        out[i] = np.mean(power[band]) if band.any() else np.interp(f, freqs, power)
    return grid, power_db(out)


def log_mel_spectrum_db(audio: np.ndarray, sample_rate: int, fmax_hz: float = TONAL_FMAX_HZ,
                        n_mels: int = TONAL_N_MELS, n_fft: int = TONAL_N_FFT) -> np.ndarray:
    """Average (Welch) power spectrum of a mono clip (samples,) on ``n_mels`` mel bands, in dB, mean removed.

    The mean over bands is removed, so the result describes tonal balance, not loudness. Returns (n_mels,).
    """
    x = np.asarray(audio)
    if x.shape[0] < n_fft:
        x = np.pad(x.astype(np.float64), (0, n_fft - x.shape[0]))
    _, psd = welch_psd(x, sample_rate, n_fft)  # (n_fft // 2 + 1,)
    fmax = min(fmax_hz, sample_rate / 2.0)
    level_db = power_db(mel_filterbank(int(sample_rate), n_fft, n_mels, TONAL_FMIN_HZ, float(fmax)) @ psd)
    return level_db - level_db.mean()


def shared_fmax_hz(sample_rate: int, reference_rate: int) -> float:
    """The top mel band edge two clips at these rates are compared up to."""
    return min(TONAL_FMAX_HZ, sample_rate / 2.0, reference_rate / 2.0)


def tonal_rms_db(spectrum_db: np.ndarray, reference_db: np.ndarray) -> float:
    """RMS difference (dB) of two :func:`log_mel_spectrum_db` results made with the same fmax."""
    return float(np.sqrt(np.mean((spectrum_db - reference_db) ** 2)))


def tonal_rms_distance_db(audio: np.ndarray, sample_rate: int, reference: np.ndarray, reference_rate: int) -> float:
    """RMS difference in dB between two clips' mean-removed log-mel average spectra (0 = same tonal balance).

    Both clips use mel bands with the same edges in Hz (up to the lower of the two Nyquist frequencies and
    16 kHz), so clips at different sample rates compare directly.
    """
    fmax = shared_fmax_hz(sample_rate, reference_rate)
    return tonal_rms_db(log_mel_spectrum_db(audio, sample_rate, fmax),
                        log_mel_spectrum_db(reference, reference_rate, fmax))
