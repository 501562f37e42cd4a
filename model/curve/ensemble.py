"""An ensemble of curve networks (members trained with different seeds on the same curve data) read as one
model: torch-free, shared by the torch module (model.curve.network.CurveEnsemble) and NumPy inference.

The members' medians are averaged. The combined Laplace scale b holds both kinds of doubt, by the law of total
variance (a Laplace variable's variance is 2 b^2): each member's own (the mean of their b^2) and the members'
disagreement (the variance of their medians, halved), so restraint (model.curve.restraint) shrinks a curve the
members disagree on more than one they all give.
"""

from __future__ import annotations

import numpy as np

from model.curve.network_config import LOG_SCALE_RANGE
from model.errors import CheckpointError

MAX_MEMBERS = 16


def check_members(n: int) -> None:
    """Raises CheckpointError unless 1 <= n <= MAX_MEMBERS."""
    if not 1 <= n <= MAX_MEMBERS:
        raise CheckpointError(f"a curve ensemble needs 1 to {MAX_MEMBERS} members, got {n}")


def combine(medians: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, ..., M) members' medians and Laplace scales (dB) -> the ensemble's (median, scale), (..., M) float64.
    One member is returned as it is."""
    m, b = np.asarray(medians, dtype=np.float64), np.asarray(scales, dtype=np.float64)
    if len(m) == 1:
        return m[0], b[0]
    scale = np.sqrt((b ** 2).mean(axis=0) + 0.5 * m.var(axis=0))
    return m.mean(axis=0), np.clip(scale, *np.exp(LOG_SCALE_RANGE))  # the members' own range
