"""The NumPy twin of model.curve.features for torch-free inference: the same gated per-band statistics and the
same refusals (mostly silence, steady noise; one definition in model.curve.stats_config); the normalization and
network input are defined here only (model.curve.features wraps them for training).

Training stays on the torch module; both take their settings from model.config.FeatureConfig and
model.curve.stats_config, and tests/model/test_numpy_inference.py checks they agree on real clips.
"""

from __future__ import annotations

import numpy as np

from model.config import FeatureConfig
from model.curve.stats_config import AMIN, LEVEL_FLOOR_DB, StatsConfig, check_not_steady, check_sound


def _db(power: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, np.float32(AMIN)))


def quantiles(values: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """(Q, M) float32: ``np.quantile(values, q, axis=1)`` of (M, N) float32 (its default linear method), from one
    sort of each row: twice as fast as np.quantile, whose partitions for six order statistics cost more than the
    sort. Equal to it to float32 rounding (tests/model/test_numpy_inference.py)."""
    ordered = np.sort(values, axis=1)
    position = np.asarray(q, dtype=np.float64) * (values.shape[1] - 1)
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, values.shape[1] - 1)
    frac = (position - below)[:, None]                                   # (Q, 1)
    low, high = ordered[:, below].T.astype(np.float64), ordered[:, above].T.astype(np.float64)  # (Q, M)
    return (low + (high - low) * frac).astype(np.float32)


def frame_gates(mel_power: np.ndarray, config: StatsConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame level dB, sound, measured), each (frames,): the broadband level of each frame, the frames within
    ``gate_db`` of the clip's loud frames (its 95th percentile; the sound check) and those within
    ``level_gate_db`` (what the statistics measure)."""
    frame_db = _db(mel_power.sum(axis=0))
    loud_db = np.quantile(frame_db, 0.95)
    return frame_db, frame_db > loud_db - config.gate_db, frame_db > loud_db - config.level_gate_db


def band_stats(mel_power: np.ndarray, config: StatsConfig = StatsConfig(),
               features: FeatureConfig = FeatureConfig(scale="linear"), what: str = "clip",
               check: bool = True) -> np.ndarray:
    """(M, frames) float32 mel power -> (S, M) float32: [mean level, percentiles..., spread] per band, dB.

    Raises:
        AudioInputError (with ``check``): as model.curve.features.band_stats (mostly silence, steady noise).
    """
    return stats_of(mel_power, None, config, features, what, check)


def band_levels(mel_power: np.ndarray) -> np.ndarray:
    """(M, frames) float32 mel power -> its level in dB, as :func:`stats_of` takes it."""
    return _db(mel_power)


def stats_of(mel_power: np.ndarray, levels: np.ndarray | None, config: StatsConfig = StatsConfig(),
             features: FeatureConfig = FeatureConfig(scale="linear"), what: str = "clip",
             check: bool = True) -> np.ndarray:
    """:func:`band_stats`, given ``levels`` = :func:`band_levels` of ``mel_power`` (or None): overlapping
    segments of one track slice the track's levels instead of taking the logarithm of each frame again."""
    frame_db, active, measured = frame_gates(mel_power, config)
    active_s = float(active.sum()) * features.hop_ms / 1000.0
    if check:
        check_sound(active_s, config, what)
        check_not_steady(float(frame_db[active].std(ddof=1)), config, what)
    power = mel_power[:, measured]
    level = _db(power) if levels is None else levels[:, measured]                 # (M, N)
    mean_level = _db(power.mean(axis=1, dtype=np.float32))                         # (M,)
    band_quantiles = quantiles(level, config.quantiles)                            # (Q, M)
    spread = level.std(axis=1, ddof=1)                                             # (M,)
    return np.concatenate([mean_level[None], band_quantiles, spread[None]]).astype(np.float32)


def normalize(stats: np.ndarray, config: StatsConfig = StatsConfig()) -> np.ndarray:
    """(..., S, M) -> the same with the clip's total mel level (dB) subtracted from the level channels, which
    are then floored at LEVEL_FLOOR_DB (float32)."""
    out = np.asarray(stats, dtype=np.float64).copy()
    total_db = 10.0 * np.log10(np.power(10.0, out[..., 0, :] / 10.0).sum(axis=-1, keepdims=True))  # (..., 1)
    levels = out[..., :config.n_level, :] - total_db[..., None, :]
    # Bands this far below the clip's total hold no signal (digital silence above a lossy file's cut-off): an
    # EQ cannot move them, so training (which adds curves to cached statistics) and inference both floor them.
    out[..., :config.n_level, :] = np.maximum(levels, LEVEL_FLOOR_DB)
    return out.astype(np.float32)


def pair_input(track: np.ndarray, reference: np.ndarray, config: StatsConfig = StatsConfig()) -> np.ndarray:
    """Normalized stats (B, S, M) of track and reference -> network input (B, C, M) float32: both, their level
    differences, and the band position (0..1)."""
    t, r = normalize(track, config), normalize(reference, config)
    n_bands = t.shape[-1]
    position = np.broadcast_to(np.linspace(0.0, 1.0, n_bands, dtype=np.float32), (t.shape[0], 1, n_bands))
    return np.concatenate([t, r, r[:, :config.n_level] - t[:, :config.n_level], position], axis=1)
