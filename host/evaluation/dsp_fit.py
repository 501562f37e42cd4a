"""The DSP EQ-match baseline: fit a plugin's bands to the average-spectrum ratio of reference over track.

1. The target curve: Welch power spectra of track and reference, each averaged over fractional-octave
   bands (1/3 octave by default) on a log-spaced frequency grid; the curve is their ratio in dB.
2. The fit: the plugin's band settings, bounded by each :class:`ParameterSpec`'s range, that make its
   magnitude response (plus a free overall level, since the reference is other material at another
   loudness) closest to that curve in the least-squares sense (``scipy.optimize.least_squares``).

The plugin's response is modelled analytically with the biquads of :mod:`host.plugins.filters`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from host.errors import AudioInputError, ConfigError
from host.plugins.filters import analytic_response_db
from host.spectrum import fractional_octave_power, power_db, welch_psd
from model.profiles import PluginProfile

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class EqMatchConfig:
    """Settings of the EQ-match fit."""

    min_freq_hz: float = 30.0          # lowest frequency of the fitted curve
    max_freq_hz: float = 16000.0       # highest (capped at 0.45 x the sample rate)
    points_per_octave: int = 12        # density of the log-spaced fit grid
    smoothing_oct: float = 1.0 / 3.0   # width of the averaging band around each grid frequency
    welch_segment: int = 8192          # Welch segment length in samples (5.4 Hz resolution at 44.1 kHz)
    dynamic_range_db: float = 70.0     # grid points this far below either spectrum's peak are ignored
    restarts: int = 2                  # extra fits from random starting points (the best fit wins)
    gain_penalty: float = 0.3          # ridge on band gains, in residual dB per dB of gain (see fit_curve)
    max_evaluations: int = 100         # cap on residual evaluations per starting point
    seed: int = 0                      # seed of those starting points

    def __post_init__(self) -> None:
        if not 0.0 < self.min_freq_hz < self.max_freq_hz:
            raise ConfigError(f"need 0 < min_freq_hz < max_freq_hz, got {self.min_freq_hz}, {self.max_freq_hz}")
        if self.points_per_octave < 1 or self.smoothing_oct <= 0.0 or self.welch_segment < 256:
            raise ConfigError(f"points_per_octave >= 1, smoothing_oct > 0 and welch_segment >= 256 are required, "
                             f"got {self.points_per_octave}, {self.smoothing_oct}, {self.welch_segment}")
        if self.restarts < 0 or self.gain_penalty < 0.0 or self.max_evaluations < 10:
            raise ConfigError(f"restarts >= 0, gain_penalty >= 0 and max_evaluations >= 10 are required, "
                             f"got {self.restarts}, {self.gain_penalty}, {self.max_evaluations}")


def fit_grid_hz(sample_rate: int, config: EqMatchConfig = EqMatchConfig()) -> np.ndarray:
    """Log-spaced frequencies (F,) on which the curve is fitted."""
    top = min(config.max_freq_hz, 0.45 * sample_rate)
    n = int(math.floor(math.log2(top / config.min_freq_hz) * config.points_per_octave)) + 1
    return config.min_freq_hz * np.power(2.0, np.arange(n) / config.points_per_octave)


def _smoothed_psd_db(audio: np.ndarray, sample_rate: int, freqs_hz: np.ndarray, config: EqMatchConfig,
                     name: str) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1:
        raise AudioInputError(f"{name} must be mono (samples,), got shape {x.shape}")
    if x.shape[0] < 256 or not np.any(x):
        raise AudioInputError(f"{name} is too short ({x.shape[0]} samples, need 256) or silent")
    bin_hz, psd = welch_psd(x, sample_rate, config.welch_segment)
    return power_db(fractional_octave_power(psd, float(bin_hz[1]), freqs_hz, config.smoothing_oct), floor=1e-30)


def target_curve_db(track: np.ndarray, reference: np.ndarray, sample_rate: int,
                    config: EqMatchConfig = EqMatchConfig()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(freqs_hz (F,), curve_db (F,), weights (F,)): smoothed reference/track power ratio in dB.

    A weight is 0 where either spectrum lies more than ``dynamic_range_db`` below its own peak, else 1.

    Raises:
        AudioInputError: either clip is not mono, is shorter than 256 samples, or is silent.
    """
    freqs = fit_grid_hz(sample_rate, config)
    track_db = _smoothed_psd_db(track, sample_rate, freqs, config, "track")
    ref_db = _smoothed_psd_db(reference, sample_rate, freqs, config, "reference")
    audible = ((track_db > track_db.max() - config.dynamic_range_db)
               & (ref_db > ref_db.max() - config.dynamic_range_db))
    return freqs, ref_db - track_db, audible.astype(np.float64)


def _values_from_unit(profile: PluginProfile, unit: np.ndarray) -> np.ndarray:
    # from_bin with 2 bins maps a fractional position 0..1 across each parameter's [min, max] on its scale.
    return np.array([spec.from_bin(u, n_bins=2) for spec, u in zip(profile.parameters, unit)], dtype=np.float64)


def fit_curve(profile: PluginProfile, freqs_hz: np.ndarray, curve_db: np.ndarray, sample_rate: int,
              weights: np.ndarray | None = None, config: EqMatchConfig = EqMatchConfig()) -> np.ndarray:
    """Physical values (P,) whose analytic response, up to an overall level, best fits ``curve_db`` (F,).

    The parameters are searched in 0..1 across each parameter's range (log for Hz and Q), so the bounds
    are each ParameterSpec's min/max. The best of one fit from the defaults and ``config.restarts`` fits
    from random points is returned. Because the overall level is free, a cut everywhere and a boost
    everywhere fit equally well; a small ridge (``config.gain_penalty`` x gain in dB, one residual per band)
    picks the smallest gains among such fits.
    """
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    curve = np.asarray(curve_db, dtype=np.float64)
    w = np.ones_like(curve) if weights is None else np.sqrt(np.asarray(weights, dtype=np.float64))
    if not np.any(w > 0):
        log.warning("no audible frequency to fit; returning the profile's defaults")
        return profile.default_values()

    gain_index = [profile.parameter_names.index(b.gain) for b in profile.bands]

    def residual(theta: np.ndarray) -> np.ndarray:
        values = _values_from_unit(profile, theta[:-1])
        response = analytic_response_db(profile, values, freqs, sample_rate)
        return np.concatenate([w * (response + theta[-1] - curve), config.gain_penalty * values[gain_index]])

    offset0 = float(np.average(curve, weights=w ** 2))
    rng = np.random.default_rng(config.seed)
    starts = [np.clip(profile.to_unit(profile.default_values()), 0.0, 1.0)]
    starts += [rng.uniform(0.0, 1.0, profile.n_params) for _ in range(config.restarts)]
    lower = np.concatenate([np.zeros(profile.n_params), [-np.inf]])
    upper = np.concatenate([np.ones(profile.n_params), [np.inf]])
    best: optimize.OptimizeResult | None = None
    for start in starts:
        # tr_solver "lsmr", not "exact": where a band's gain is 0 dB (all of them at the defaults) its frequency
        # and width have zero Jacobian columns, and the exact solver's SVD turns them into round-off singular
        # values (~1e-16) that soak up the trust radius: the first step moved those settings by up to 0.8 of
        # their range in directions set by rounding (which differs between CPUs). LSMR's step is the
        # minimum-norm one: nothing along a direction the curve does not depend on.
        result = optimize.least_squares(residual, np.concatenate([start, [offset0]]), bounds=(lower, upper),
                                        max_nfev=config.max_evaluations, tr_solver="lsmr",
                                        x_scale=np.concatenate([np.ones(profile.n_params), [10.0]]))
        if best is None or result.cost < best.cost:
            best = result
    assert best is not None
    log.debug("eq-match fit: cost %.4g, offset %.2f dB", best.cost, best.x[-1])
    return profile.clip(_values_from_unit(profile, best.x[:-1]))


def fit_eq_match(track: np.ndarray, reference: np.ndarray, sample_rate: int, profile: PluginProfile,
                 config: EqMatchConfig = EqMatchConfig()) -> np.ndarray:
    """Physical plugin settings (P,) that make ``track`` sound like ``reference`` by average spectrum.

    Args:
        track: mono float audio (samples,) at ``sample_rate`` Hz.
        reference: mono float audio (samples,) at the same rate, any length.
        sample_rate: in Hz.
        profile: the plugin profile whose bands are fitted.

    Raises:
        AudioInputError: a clip is not mono, too short (< 256 samples) or silent.
        ProfileError: the profile has no bands or a width unit other than Q or octaves.
    """
    freqs, curve, weights = target_curve_db(track, reference, sample_rate, config)
    return fit_curve(profile, freqs, curve, sample_rate, weights, config)
