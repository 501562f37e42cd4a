"""Restraint: when the curve network's evidence is weak, the match does less (torch-free, so the host can
check a restraint before loading torch)."""

from __future__ import annotations

import numpy as np

from model.errors import ConfigError

# Restraint k scales the whole curve toward flat by S / (S + k^2 N), where S is the mean square of the curve's
# shape (the median minus its mean over the bands) and N the mean square of the network's Laplace scales b: a
# curve that stands out little from the network's own uncertainty is mostly passage noise, so it is applied
# gently. One factor for all bands keeps the curve's shape (an earlier per-band shrink, m^3 / (m^2 + (k b)^2),
# bent it and traded worse for fewer harmful matches). Measured on the validation split's music (2,048 pairs of
# the shipped data, curve domain, level-invariant error / share worse than flat): per band k=0.5 0.586 / 20.4%,
# k=1 0.613 / 17.9%; whole curve k=0.5 0.579 / 18.9%, k=1 0.625 / 15.6%. The default is chosen there
# (examples/tune_restraint.py); see the README's restraint paragraph.
DEFAULT_RESTRAINT = 0.5
MAX_RESTRAINT = 4.0


def check_restraint(restraint: float) -> None:
    """Raises ConfigError for a restraint outside [0, MAX_RESTRAINT] (or not a number)."""
    if not (np.isfinite(restraint) and 0.0 <= restraint <= MAX_RESTRAINT):
        raise ConfigError(f"--restraint must lie in [0, {MAX_RESTRAINT:g}], got {restraint}")


def restraint_factor(median_db: np.ndarray, scale_db: np.ndarray, restraint: float) -> np.ndarray:
    """(...,) the factor in [0, 1] each curve (last axis: bands) is scaled by."""
    check_restraint(restraint)
    m, b = np.asarray(median_db, dtype=np.float64), np.asarray(scale_db, dtype=np.float64)
    shape = m - m.mean(axis=-1, keepdims=True)
    signal, noise = (shape ** 2).mean(axis=-1), (b ** 2).mean(axis=-1)
    return signal / np.maximum(signal + restraint ** 2 * noise, 1e-12)


def restrain(median_db: np.ndarray, scale_db: np.ndarray, restraint: float) -> np.ndarray:
    """Scale each curve (last axis: bands) toward 0 dB by :func:`restraint_factor`; ``restraint`` 0 returns the
    median exactly.

    Raises:
        ConfigError: ``restraint`` outside [0, MAX_RESTRAINT].
    """
    check_restraint(restraint)
    m = np.asarray(median_db, dtype=np.float64)
    if restraint == 0.0:
        return m.copy()
    return m * restraint_factor(m, scale_db, restraint)[..., None]
