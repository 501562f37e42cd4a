"""Restraint: when the curve network is unsure of a band, the match does less there (torch-free, so the
host can check a restraint before loading torch)."""

from __future__ import annotations

import numpy as np

from model.errors import ConfigError

# Restraint k: each band's median m is shrunk toward flat by m^2 / (m^2 + (k b)^2), b its Laplace scale, so a
# band the network is unsure of does less. 0.5 was chosen on the validation split (curve domain, 3,072 pairs):
# rows worse than flat 27.1% -> 24.9% for +0.3% curve error; stronger k trades more error for fewer such rows
# (k=1: 22.9% at +1.7%). The remaining worse rows are mostly near-flat truths (see the README).
DEFAULT_RESTRAINT = 0.5
MAX_RESTRAINT = 4.0


def restrain(median_db: np.ndarray, scale_db: np.ndarray, restraint: float) -> np.ndarray:
    """Shrink each band's median toward 0 dB by its evidence: m * m^2 / (m^2 + (k b)^2).

    Raises:
        ConfigError: ``restraint`` outside [0, MAX_RESTRAINT].
    """
    if not (np.isfinite(restraint) and 0.0 <= restraint <= MAX_RESTRAINT):
        raise ConfigError(f"--restraint must lie in [0, {MAX_RESTRAINT:g}], got {restraint}")
    m, b = np.asarray(median_db, dtype=np.float64), np.asarray(scale_db, dtype=np.float64)
    if restraint == 0.0:
        return m.copy()  # exactly the median
    return m * m ** 2 / np.maximum(m ** 2 + (restraint * b) ** 2, 1e-12)
