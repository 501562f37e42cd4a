"""Turn per-parameter bin distributions into one bin per parameter, chosen by name.

* ``argmax``: the most probable bin (Mimilakis et al. 2020).
* ``median``: the distribution's median bin (the smallest bin whose cumulative probability
  reaches 0.5); it minimizes the expected absolute bin error, so it suits an MAE criterion when
  the network is unsure (its guess falls back towards the middle instead of a far mode).
"""

from __future__ import annotations

from typing import Callable

import torch

from model.errors import ConfigError

DECODERS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "argmax": lambda probs: probs.argmax(dim=-1),
    "median": lambda probs: (probs.cumsum(dim=-1) < 0.5).sum(dim=-1).clamp_max(probs.shape[-1] - 1),
}


def decode_bins(logits: torch.Tensor, method: str = "argmax") -> torch.Tensor:
    """(..., D) logits -> (...) int64 bins.

    Raises:
        ConfigError: unknown method (the message lists the known ones).
    """
    if method not in DECODERS:
        raise ConfigError(f"decode method {method!r} is not one of {sorted(DECODERS)}")
    return DECODERS[method](torch.softmax(logits.double(), dim=-1))
