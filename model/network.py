"""Networks mapping (track mel, reference mel) to P x D bin logits.

* ``MimilakisNet`` (Mimilakis, Bryan & Smaragdis, ICASSP 2020): one CNN encoder with shared weights
  embeds the track and the reference each to F values; the two embeddings, stacked 2 x F, are
  compared by a learned convolution to 1 x F; a feed-forward head gives P x D logits (softmax over
  D per parameter). The encoder convolves along time with the mel bands as input channels (a 1-D
  variant of the paper's CNN, small enough for real-time CPU inference).
* ``FixedFeatureNet`` (in the manner of Sheng & Fazekas 2019): fixed, non-learned features (the
  time-averaged mel of track and reference, linear power or dB), concatenated with their
  difference, and the same feed-forward head; no learned comparison.

Architectures are chosen by name through ``model.architectures``.
"""

from __future__ import annotations


import torch
from torch import nn

from model.config import NetworkConfig


def _head(in_features: int, cfg: NetworkConfig) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, cfg.hidden), nn.ReLU(),
        nn.Dropout(cfg.dropout),
        nn.Linear(cfg.hidden, cfg.n_params * cfg.n_bins),
    )


class Encoder(nn.Module):
    """(B, n_mels, frames) dB mel -> (B, F) embedding. Shared by track and reference."""

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv1d(cfg.n_mels, cfg.conv_channels, cfg.first_kernel, stride=cfg.first_stride),
            nn.BatchNorm1d(cfg.conv_channels), nn.ReLU(),
        ]
        for _ in range(cfg.n_conv - 1):
            layers += [nn.Conv1d(cfg.conv_channels, cfg.conv_channels, 3, stride=2, padding=1),
                       nn.BatchNorm1d(cfg.conv_channels), nn.ReLU()]
        self.convs = nn.Sequential(*layers)
        self.project = nn.Linear(2 * cfg.conv_channels, cfg.embed_dim)
        self.db_scale = cfg.db_scale

    def forward(self, mel_db: torch.Tensor) -> torch.Tensor:
        h = self.convs(mel_db / self.db_scale)  # (B, C, frames')
        pooled = torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=-1)  # (B, 2C)
        return self.project(pooled)  # (B, F)


class MimilakisNet(nn.Module):
    """Shared encoder + learned 2 x F -> 1 x F comparison + feed-forward head.

    Shape: track_mel, reference_mel (B, n_mels, frames) in dB (frame counts may differ);
    output logits (B, P, D).
    """

    feature_scale = "db"

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.compare = nn.Conv1d(2, 1, cfg.compare_kernel, padding=cfg.compare_kernel // 2)
        self.head = _head(cfg.embed_dim, cfg)

    def forward(self, track_mel: torch.Tensor, reference_mel: torch.Tensor) -> torch.Tensor:
        both = torch.stack([self.encoder(track_mel), self.encoder(reference_mel)], dim=1)  # (B, 2, F)
        compared = torch.relu(self.compare(both)).squeeze(1)  # (B, F)
        logits = self.head(compared)  # (B, P * D)
        return logits.view(-1, self.cfg.n_params, self.cfg.n_bins)  # (B, P, D)


class FixedFeatureNet(nn.Module):
    """Baseline: time-averaged mel of track and reference (and their difference) -> head.

    ``feature_scale`` "linear": averaged mel power, both divided by the track's mean power (so a
    clip's overall level does not matter), difference taken on that scale. "db": averaged dB mel.
    Shape: (B, n_mels, frames) each -> logits (B, P, D).
    """

    def __init__(self, cfg: NetworkConfig, feature_scale: str) -> None:
        super().__init__()
        self.cfg = cfg
        self.feature_scale = feature_scale
        self.norm = nn.LayerNorm(3 * cfg.n_mels, elementwise_affine=False)
        self.head = _head(3 * cfg.n_mels, cfg)

    def forward(self, track_mel: torch.Tensor, reference_mel: torch.Tensor) -> torch.Tensor:
        t = track_mel.mean(dim=-1)  # (B, n_mels)
        r = reference_mel.mean(dim=-1)  # (B, n_mels)
        if self.feature_scale == "linear":
            level = t.mean(dim=-1, keepdim=True).clamp_min(1e-12)  # (B, 1)
            t, r = t / level, r / level
        else:
            t, r = t / self.cfg.db_scale, r / self.cfg.db_scale
        features = torch.cat([t, r, r - t], dim=-1)  # (B, 3 * n_mels)
        if self.feature_scale == "linear":
            features = self.norm(features)  # linear power spans decades: standardize per example
        return self.head(features).view(-1, self.cfg.n_params, self.cfg.n_bins)  # (B, P, D)
