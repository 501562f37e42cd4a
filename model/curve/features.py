"""Per-band statistics of a clip, loudness-normalized: what the curve network sees of a track or a reference.

From the paper's front end (20 ms Hann window, 3 ms hop, 128 mel bands, power) each clip gives, per mel band
and over its active frames: the level of the mean power, the 10th/50th/90th percentiles of the frame level,
and the frame level's standard deviation (all dB). An EQ (LTI) adds its mel gain (model.curve.response) to
the first four and leaves the spread alone, which is what lets training apply fresh curves to cached dry
statistics. Normalizing subtracts the clip's total mel level from the level channels, so a louder or
quieter clip gives the same input (to float rounding, ~1e-5 dB): loudness cannot be read as EQ.
"""

from __future__ import annotations

import numpy as np
import torch

from model.config import FeatureConfig
from model.curve import numpy_stats
from model.curve.stats_config import AMIN, StatsConfig, check_not_steady, check_sound  # shared with numpy_stats
from model.errors import ConfigError
from model.features import MelSpectrogram


class ClipStats(torch.nn.Module):
    """Mono waveform -> mel power frames -> (S, M) statistics in dB, unnormalized (see :func:`band_stats`)."""

    def __init__(self, features: FeatureConfig = FeatureConfig(scale="linear"),
                 stats: StatsConfig = StatsConfig()) -> None:
        super().__init__()
        if features.scale != "linear":
            raise ConfigError("the curve model's front end must give linear mel power (scale='linear')")
        self.features, self.stats = features, stats
        self.mel = MelSpectrogram(features)

    def mel_power(self, waveform: torch.Tensor) -> torch.Tensor:
        """(samples,) -> (M, frames) mel power."""
        with torch.inference_mode():
            return self.mel(waveform.float())

    def stats_of(self, mel_power: torch.Tensor, what: str = "clip") -> torch.Tensor:
        """(M, frames) mel power -> (S, M) statistics; raises as :func:`band_stats`."""
        return band_stats(mel_power, self.stats, self.features, what)

    def forward(self, waveform: torch.Tensor, what: str = "clip") -> torch.Tensor:
        return self.stats_of(self.mel_power(waveform), what)


def frame_gates(mel_power: torch.Tensor, config: StatsConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`model.curve.numpy_stats.frame_gates` on a tensor: (frame level dB, sound, measured)."""
    frame_db = 10.0 * torch.log10(mel_power.sum(dim=0).clamp_min(AMIN))
    loud_db = torch.quantile(frame_db, 0.95)
    return frame_db, frame_db > loud_db - config.gate_db, frame_db > loud_db - config.level_gate_db


def band_stats(mel_power: torch.Tensor, config: StatsConfig = StatsConfig(),
               features: FeatureConfig = FeatureConfig(scale="linear"), what: str = "clip",
               check: bool = True) -> torch.Tensor:
    """(M, frames) mel power -> (S, M): [mean level, percentiles..., spread] per band, dB, unnormalized.

    Raises:
        AudioInputError (with ``check``): fewer than ``min_active_s`` of active frames (mostly silence), or a
        broadband frame level steadier than ``noise_spread_db`` (steady noise has no tonal balance of music to match).
    """
    frame_db, active, measured = frame_gates(mel_power, config)
    active_s = float(active.sum()) * features.hop_ms / 1000.0
    if check:
        check_sound(active_s, config, what)
        check_not_steady(float(frame_db[active].std()), config, what)
    power = mel_power[:, measured]
    level = 10.0 * torch.log10(power.clamp_min(AMIN))                               # (M, N)
    mean_level = 10.0 * torch.log10(power.mean(dim=1).clamp_min(AMIN))             # (M,)
    quantiles = torch.quantile(level, torch.tensor(config.quantiles, dtype=level.dtype), dim=1)  # (Q, M)
    spread = level.std(dim=1)                                                        # (M,)
    return torch.cat([mean_level[None], quantiles, spread[None]]).float()


def normalize(stats: torch.Tensor, config: StatsConfig = StatsConfig()) -> torch.Tensor:
    """:func:`model.curve.numpy_stats.normalize` on a tensor (one definition for training and inference)."""
    return torch.from_numpy(numpy_stats.normalize(stats.detach().numpy(), config))


def pair_input(track: torch.Tensor, reference: torch.Tensor, config: StatsConfig = StatsConfig()) -> torch.Tensor:
    """:func:`model.curve.numpy_stats.pair_input` on tensors: normalized stats (B, S, M) of track and reference
    -> network input (B, C, M)."""
    return torch.from_numpy(np.ascontiguousarray(numpy_stats.pair_input(
        track.detach().numpy(), reference.detach().numpy(), config)))


def n_input_channels(config: StatsConfig = StatsConfig()) -> int:
    return 2 * config.n_stats + config.n_level + 1


def ratio_channel(config: StatsConfig = StatsConfig()) -> int:
    """Index of the reference-minus-track mean-level channel in :func:`pair_input`'s output."""
    return 2 * config.n_stats
