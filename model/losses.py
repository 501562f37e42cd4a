"""Bin-classification losses on (B, P, D) logits against (B, P) integer bins, chosen by name.

* ``ce``: cross-entropy per parameter, as in Mimilakis et al. 2020.
* ``ce-smooth``: cross-entropy against a Gaussian over the bins centred on the true bin
  (ordinal-aware: a near miss costs less than a far one).
* ``ce-ev``: cross-entropy plus ``ev_weight`` times the L1 distance, in bins, between the
  softmax's expected bin and the true bin.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from model.config import LOSSES, TrainConfig

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cross_entropy(logits: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    n_bins = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, n_bins), bins.reshape(-1))


def gaussian_targets(bins: torch.Tensor, n_bins: int, sigma_bins: float) -> torch.Tensor:
    """(B, P) int bins -> (B, P, D) target distributions, a normalized Gaussian around each bin."""
    grid = torch.arange(n_bins, dtype=torch.float32, device=bins.device)  # (D,)
    weights = torch.exp(-0.5 * ((grid - bins.unsqueeze(-1).float()) / sigma_bins) ** 2)  # (B, P, D)
    return weights / weights.sum(dim=-1, keepdim=True)


def smoothed_cross_entropy(logits: torch.Tensor, bins: torch.Tensor, sigma_bins: float) -> torch.Tensor:
    targets = gaussian_targets(bins, logits.shape[-1], sigma_bins)  # (B, P, D)
    return -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def expected_bin(logits: torch.Tensor) -> torch.Tensor:
    """(B, P, D) logits -> (B, P) expected bin position under the softmax."""
    grid = torch.arange(logits.shape[-1], dtype=logits.dtype, device=logits.device)
    return (F.softmax(logits, dim=-1) * grid).sum(dim=-1)


def make_loss(config: TrainConfig) -> LossFn:
    """The loss ``config.loss`` names, with its settings bound."""
    registry: dict[str, LossFn] = {
        "ce": cross_entropy,
        "ce-smooth": lambda lg, b: smoothed_cross_entropy(lg, b, config.label_sigma_bins),
        "ce-ev": lambda lg, b: cross_entropy(lg, b)
        + config.ev_weight * (expected_bin(lg) - b.float()).abs().mean(),
    }
    assert set(registry) == set(LOSSES)
    return registry[config.loss]
