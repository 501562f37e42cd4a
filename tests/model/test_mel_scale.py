"""The NumPy Slaney mel filterbank: librosa's to float rounding, and the scale's own landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from model.mel_scale import hz_to_mel, mel_filterbank, mel_frequencies_hz, mel_to_hz

CASES = [  # sample_rate, n_fft, n_mels, fmin_hz, fmax_hz: the model's front end, refinement, apply's report, others
    (44100, 1024, 128, 0.0, None), (44100, 8192, 128, 20.0, None), (44100, 4096, 64, 40.0, 16000.0),
    (22050, 2048, 80, 0.0, 8000.0), (48000, 960, 128, 0.0, None), (16000, 512, 40, 100.0, 7600.0),
]


@pytest.mark.parametrize("sample_rate,n_fft,n_mels,fmin_hz,fmax_hz", CASES)
def test_the_filterbank_equals_librosas(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float,
                                        fmax_hz: float | None) -> None:
    librosa = pytest.importorskip("librosa")
    ours = mel_filterbank(sample_rate, n_fft, n_mels, fmin_hz, fmax_hz)
    theirs = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin_hz, fmax=fmax_hz)
    assert ours.dtype == theirs.dtype == np.float32 and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
    fmax = sample_rate / 2 if fmax_hz is None else fmax_hz
    np.testing.assert_allclose(mel_frequencies_hz(n_mels, fmin_hz, fmax),
                               librosa.mel_frequencies(n_mels=n_mels, fmin=fmin_hz, fmax=fmax), rtol=1e-12)


def test_the_scale_is_linear_to_1_khz_then_logarithmic() -> None:
    assert float(hz_to_mel(1000.0)) == pytest.approx(15.0)
    assert float(hz_to_mel(500.0)) == pytest.approx(7.5)
    # 27 mels per factor 6.4 above 1 kHz
    assert float(hz_to_mel(6400.0)) - float(hz_to_mel(1000.0)) == pytest.approx(27.0)
    freqs = np.array([0.0, 333.0, 999.0, 1000.0, 4321.0, 22050.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(freqs)), freqs, rtol=1e-12, atol=1e-9)


def test_each_filter_peaks_at_its_centre_and_has_unit_area() -> None:
    sample_rate, n_fft, n_mels = 44100, 8192, 40
    bank = mel_filterbank(sample_rate, n_fft, n_mels, 20.0, dtype=np.float64)
    bins_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    centres_hz = mel_frequencies_hz(n_mels + 2, 20.0, sample_rate / 2)[1:-1]
    peaks_hz = bins_hz[np.argmax(bank, axis=1)]
    assert np.all(np.abs(peaks_hz - centres_hz) <= sample_rate / n_fft)
    # Slaney's norm: each triangle's area over frequency is 1 (a band many bins wide sums to it)
    np.testing.assert_allclose(bank.sum(axis=1) * sample_rate / n_fft, 1.0, rtol=0.02)
