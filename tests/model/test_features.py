import numpy as np
import pytest
import torch

from model.features import FeatureConfig, MelSpectrogram


def _sine(freq_hz: float, duration_s: float, sample_rate: int = 44100, amplitude: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(duration_s * sample_rate), dtype=torch.float64) / sample_rate
    return (amplitude * torch.sin(2 * torch.pi * freq_hz * t)).float()


def test_shape_for_3_s_at_44k() -> None:
    mel = MelSpectrogram(FeatureConfig())
    out = mel(torch.zeros(2, 3 * 44100))
    hop = round(44100 * 0.003)
    assert mel.config.win_length == 882 and hop == mel.config.hop_length == 132
    assert out.shape == (2, 128, 3 * 44100 // hop + 1)
    assert mel(torch.zeros(3 * 44100)).shape == (128, 3 * 44100 // hop + 1)


@pytest.mark.parametrize("freq_hz", [250.0, 1000.0, 5000.0])
def test_sine_peaks_in_its_mel_band(freq_hz: float) -> None:
    mel = MelSpectrogram(FeatureConfig())
    spectrum = mel(_sine(freq_hz, 1.0)).mean(dim=-1)  # (128,)
    centres = mel.mel_center_frequencies_hz().numpy()
    peak = int(spectrum.argmax())
    nearest = int(np.argmin(np.abs(np.log(centres / freq_hz))))
    assert abs(peak - nearest) <= 1, (peak, nearest, centres[peak])


def test_gain_of_6_db_shifts_every_band_by_6_db() -> None:
    mel = MelSpectrogram(FeatureConfig())
    noise = torch.from_numpy(np.random.default_rng(0).standard_normal(44100).astype(np.float32)) * 0.1
    diff = mel(noise * 10 ** (6 / 20)) - mel(noise)
    assert torch.allclose(diff, torch.full_like(diff, 6.0), atol=1e-3)


@pytest.mark.parametrize("n_samples", [1000, 13247, 10 * 44100])
def test_blocked_front_end_equals_one_stft_over_the_whole_clip(n_samples: int) -> None:
    mel = MelSpectrogram(FeatureConfig(scale="linear"))
    cfg = mel.config
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, n_samples)).astype(np.float32)) * 0.1
    spec = torch.stft(x, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length, window=mel.window,
                      center=True, pad_mode="reflect", return_complex=True)
    whole = torch.matmul(mel.mel_fb, spec.real.square() + spec.imag.square())
    assert whole.shape[-1] > 512 or n_samples < 44100  # 10 s spans several blocks
    assert torch.equal(mel(x), whole)


def test_db_is_log_of_linear() -> None:
    x = _sine(440.0, 0.5) + 0.01
    lin = MelSpectrogram(FeatureConfig(scale="linear"))(x)
    db = MelSpectrogram(FeatureConfig(scale="db"))(x)
    assert torch.allclose(db, 10 * torch.log10(lin.clamp_min(1e-10)), atol=1e-3)


@pytest.mark.parametrize("bad, message", [
    (dict(scale="log"), r"scale 'log' is not one of"),
    (dict(hop_ms=30.0), r"hop_ms must be in \(0, window_ms=20.0\], got 30.0"),
    (dict(fmax_hz=30000.0), r"fmax_hz \(30000.0\) <= Nyquist \(22050.0\)"),
    (dict(n_mels=0), r"n_mels must be >= 1, got 0"),
    (dict(fmin_hz=-1.0), r"0 <= fmin_hz \(-1.0\)"),
    (dict(sample_rate=0), r"sample_rate must be positive, got 0")])
def test_bad_settings_raise_with_the_setting_named(bad: dict, message: str) -> None:
    """The message names the field and the value that was given, not merely a fragment of its name."""
    with pytest.raises(ValueError, match=message):
        MelSpectrogram(FeatureConfig(**bad))
