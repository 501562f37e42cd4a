"""Settings for the plugin tests (a helper module, not a test module)."""

from __future__ import annotations

import numpy as np


def with_values(profile, **named) -> np.ndarray:
    """The profile's default (flat) settings with the named parameters changed, in profile order."""
    values = profile.default_values()
    for name, value in named.items():
        values[profile.parameter_names.index(name)] = value
    return values
