"""Mel spectrogram front end (Mimilakis et al. 2020: 20 ms window, 3 ms hop, 128 mel bands).

An ``nn.Module`` in the manner of torchaudio's transforms: it holds its settings and a registered
Slaney mel filterbank buffer (model.mel_scale: librosa's, without importing librosa) and calls ``torch.stft``.
torchaudio is deliberately not used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.config import SCALES, FeatureConfig  # torch-free, so readers of a config need no torch
from model.curve.response import mel_center_frequencies_hz
from model.errors import ConfigError
from model.mel_scale import mel_filterbank

FRAMES_PER_BLOCK = 512  # STFT frames computed at a time (see MelSpectrogram.forward)


class MelSpectrogram(nn.Module):
    """Waveform -> mel spectrogram, in dB (default) or linear power.

    Args:
        config: the front end's settings; validated here.

    Shape:
        input (B, samples) or (samples,) float32 at ``config.sample_rate``;
        output (B, n_mels, frames) or (n_mels, frames), frames = samples // hop + 1.

    Raises:
        ConfigError: a setting is out of range (the message names it and the allowed range).
    """

    def __init__(self, config: FeatureConfig = FeatureConfig()) -> None:
        super().__init__()
        nyquist_hz = config.sample_rate / 2.0
        fmax_hz = nyquist_hz if config.fmax_hz is None else config.fmax_hz
        if config.sample_rate <= 0:
            raise ConfigError(f"sample_rate must be positive, got {config.sample_rate}")
        if config.scale not in SCALES:
            raise ConfigError(f"scale {config.scale!r} is not one of {SCALES}")
        if not 0.0 < config.hop_ms <= config.window_ms:
            raise ConfigError(f"hop_ms must be in (0, window_ms={config.window_ms}], got {config.hop_ms}")
        if config.hop_length < 1 or config.win_length < 4:
            raise ConfigError(f"window_ms={config.window_ms} / hop_ms={config.hop_ms} give "
                             f"{config.win_length} / {config.hop_length} samples at {config.sample_rate} Hz; too short")
        if config.n_mels < 1:
            raise ConfigError(f"n_mels must be >= 1, got {config.n_mels}")
        if not 0.0 <= config.fmin_hz < fmax_hz <= nyquist_hz:
            raise ConfigError(f"need 0 <= fmin_hz ({config.fmin_hz}) < fmax_hz ({fmax_hz}) <= Nyquist ({nyquist_hz})")
        if config.amin <= 0.0:
            raise ConfigError(f"amin must be positive, got {config.amin}")
        self.config = config
        mel_fb = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.fmin_hz,
                                fmax_hz)  # (n_mels, n_fft // 2 + 1)
        self.register_buffer("mel_fb", torch.from_numpy(mel_fb).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(config.win_length), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        squeeze = waveform.dim() == 1
        if squeeze:
            waveform = waveform.unsqueeze(0)
        cfg = self.config
        n_frames = cfg.n_frames(waveform.shape[-1])
        # center=True framing done once by hand, so the STFT can run in blocks of frames: the complex
        # spectrogram of a long track never exists whole (memory) and each block stays in cache (faster:
        # presets/checkpoints/REPORT.md, "Speed"). Frames are the same, so the output is bit-identical to one call.
        padded = F.pad(waveform.unsqueeze(1), (cfg.n_fft // 2, cfg.n_fft // 2), mode="reflect").squeeze(1)
        out = waveform.new_empty(waveform.shape[0], cfg.n_mels, n_frames)
        for first in range(0, n_frames, FRAMES_PER_BLOCK):
            last = min(n_frames, first + FRAMES_PER_BLOCK)
            block = padded[:, first * cfg.hop_length:(last - 1) * cfg.hop_length + cfg.n_fft]
            spec = torch.stft(block, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                              window=self.window, center=False, return_complex=True)
            power = spec.real.square() + spec.imag.square()  # (B, n_fft // 2 + 1, frames)
            torch.matmul(self.mel_fb, power, out=out[:, :, first:last])  # (B, n_mels, frames)
        if cfg.scale == "db":
            out = 10.0 * torch.log10(out.clamp_min(cfg.amin))
        return out.squeeze(0) if squeeze else out

    def mel_center_frequencies_hz(self) -> torch.Tensor:
        """Centre frequency of each mel band, (n_mels,)."""
        return torch.from_numpy(mel_center_frequencies_hz(self.config).copy())
