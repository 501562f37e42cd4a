"""EQ curves as the model sees them: a profile's settings -> effective gain (dB) per mel band.

The analytic |H|^2 of the profile's bands (host.plugins.filters, checked against the real plugins) on the
model's response grid, mapped through the front end's window and mel filters (model.curve.response). Used
to make the curve model's training bank and to fit each plugin's settings to a predicted curve.
"""

from __future__ import annotations

import numpy as np

from host.plugins.filters import analytic_response_db
from model.curve.response import mel_gain_db, response_grid_hz
from model.profiles import PluginProfile

SAMPLE_RATE = 44100


def mel_curve_db(profile: PluginProfile, values: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(M,) effective mel gain in dB of the profile's bands at physical ``values`` (P,); (N, M) for (N, P)."""
    grid = response_grid_hz()
    power = 10.0 ** (analytic_response_db(profile, values, grid, sample_rate) / 10.0)
    return mel_gain_db(power)


def random_settings(profile: PluginProfile, rng: np.random.Generator, count: int) -> np.ndarray:
    """(count, P) physical settings uniform across each parameter's range (on its own scale)."""
    return profile.from_unit(rng.uniform(0.0, 1.0, (count, profile.n_params)))


def curve_bank(profiles: list[PluginProfile], per_profile: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(curves (K, M) dB, profile index (K,)): random settings of each EQ profile through :func:`mel_curve_db`."""
    rng = np.random.default_rng(seed)
    curves, owner = [], []
    for i, profile in enumerate(profiles):
        for values in random_settings(profile, rng, per_profile):
            curves.append(mel_curve_db(profile, values))
            owner.append(i)
    return np.asarray(curves, dtype=np.float32), np.asarray(owner, dtype=np.int64)
