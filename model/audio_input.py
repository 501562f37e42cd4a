"""The model's audio input conventions, one check for every predictor (torch-free): mono ``(samples,)`` or
``(samples, channels)`` (``(channels, samples)`` too: the shorter axis, at most 8 long, is channels), averaged to
mono, resampled with soxr (high quality) to the model's rate; NaN/inf, too short and silent clips are refused.
"""

from __future__ import annotations

import math

import numpy as np
import soxr

from model.errors import AudioInputError

SILENCE_DBFS = -80.0  # a clip whose RMS is below this is treated as silence
MAX_CHANNELS = 8


def prepare_audio(audio: np.ndarray, sample_rate: int, target_rate: int, min_duration_s: float,
                  what: str) -> np.ndarray:
    """Validate, downmix and resample one clip. Returns mono float32 (samples,) at target_rate.

    Raises:
        AudioInputError: wrong type or shape, NaN/inf samples, bad sample rate, too short, silent.
    """
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise AudioInputError(f"sample_rate must be a positive integer in Hz, got {sample_rate!r}")
    try:
        x = np.asarray(audio, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise AudioInputError(f"{what} is not a numeric array: {exc}") from exc
    if x.ndim == 2:
        channel_axis = int(np.argmin(x.shape))
        if x.shape[channel_axis] > MAX_CHANNELS:
            raise AudioInputError(f"{what} has shape {x.shape}: expected (samples,) or (samples, channels) "
                                  f"with at most {MAX_CHANNELS} channels")
        x = x.mean(axis=channel_axis, dtype=np.float32)
    elif x.ndim != 1:
        raise AudioInputError(f"{what} has shape {x.shape}: expected (samples,) or (samples, channels)")
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise AudioInputError(f"{what} contains {bad} NaN or infinite samples; clean or re-decode it")
    duration_s = len(x) / sample_rate
    if duration_s + 1e-9 < min_duration_s:
        raise AudioInputError(f"{what} lasts {duration_s:.3f} s; at least {min_duration_s:.3f} s (one model "
                              f"segment) is needed")
    rms = math.sqrt(float(np.dot(x, x)) / len(x)) if len(x) else 0.0
    rms_dbfs = 20.0 * math.log10(rms) if rms > 0 else -math.inf
    if rms_dbfs < SILENCE_DBFS:
        raise AudioInputError(f"{what} is silent (RMS {rms_dbfs:.1f} dBFS, below {SILENCE_DBFS:.0f} dBFS)")
    if sample_rate != target_rate:
        x = soxr.resample(x, sample_rate, target_rate, quality="HQ")
    return np.ascontiguousarray(x, dtype=np.float32)
