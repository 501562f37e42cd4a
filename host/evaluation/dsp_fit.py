"""The DSP EQ-match baseline: fit a plugin's bands to the average-spectrum ratio of reference over track.

1. The target curve: Welch power spectra of track and reference, each averaged over fractional-octave
   bands (1/3 octave by default) on a log-spaced frequency grid; the curve is their ratio in dB.
2. The fit: the plugin's band settings, bounded by each :class:`ParameterSpec`'s range, that make its
   magnitude response (plus a free overall level, since the reference is other material at another
   loudness) closest to that curve in the least-squares sense (``scipy.optimize.least_squares``).

The plugin's response is modelled analytically with biquads: RBJ Audio EQ Cookbook shelves and bells
(R. Bristow-Johnson), which is what faust-peq (Simper SVFs) and lsp-para-eq ("APO (DR)" filters)
implement; zameq2 has RBJ shelves of slope 0.707 and Orfanidis bells with its own bandwidth mapping
(:data:`FILTER_DESIGNS`). tests/host/test_eqmatch.py checks each against the real plugin's response.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, signal

from host.errors import AudioInputError, ConfigError, ProfileError
from model.profiles import Band, PluginProfile

log = logging.getLogger(__name__)

WIDTH_UNITS = ("Q", "oct")


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


@dataclass(frozen=True)
class BandSetting:
    """One band's filter in physical units: type, corner/centre frequency, gain, and width (bells only)."""

    type: str
    freq_hz: float
    gain_db: float
    width: float | None = None        # the band's width parameter: a Q or a bandwidth in octaves
    width_unit: str | None = None     # "Q" or "oct"


@dataclass(frozen=True)
class FilterDesign:
    """How a plugin turns band settings into biquads.

    ``shelf_slope`` is the RBJ cookbook shelf slope S (S = 1 is a shelf of Q 0.707); ``bell`` names the
    bell design in :data:`BELL_DESIGNS`.
    """

    shelf_slope: float = 1.0
    bell: str = "rbj"


def octaves_to_q(bandwidth_oct: float | np.ndarray) -> float | np.ndarray:
    """Q of a bell whose bandwidth between its half-gain (dB) points is ``bandwidth_oct`` octaves (analog)."""
    two_n = np.power(2.0, bandwidth_oct)
    return np.sqrt(two_n) / (two_n - 1.0)


def _rbj_bell(band: BandSetting, sample_rate: int) -> np.ndarray:
    """RBJ cookbook peaking EQ; a width in octaves is converted to Q with :func:`octaves_to_q`."""
    q = band.width if band.width_unit == "Q" else float(octaves_to_q(band.width))
    a = 10.0 ** (band.gain_db / 40.0)
    w0 = 2.0 * math.pi * band.freq_hz / sample_rate
    alpha = math.sin(w0) / (2.0 * q)
    b = (1.0 + alpha * a, -2.0 * math.cos(w0), 1.0 - alpha * a)
    den = (1.0 + alpha / a, -2.0 * math.cos(w0), 1.0 - alpha / a)
    return np.array([*b, *den]) / den[0]


def _zam_orfanidis_bell(band: BandSetting, sample_rate: int) -> np.ndarray:
    """ZamEQ2's bell: Orfanidis' prescribed-Nyquist-gain design (JAES 1997) with the band-edge gain at half
    the peak gain in dB, and ZamEQ2's own bandwidth mapping: Q' = 2^(1/N) / (2^N - 1) from N octaves and
    a bandwidth of (f / sample_rate) / Q' taken as radians (reproduces ZamEQ2 4.1, measured)."""
    if band.width_unit != "oct":
        raise ProfileError(f"the ZamEQ2 bell takes a bandwidth in octaves, got unit {band.width_unit!r}")
    if band.gain_db == 0.0:
        return np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    g0, g = 1.0, 10.0 ** (band.gain_db / 20.0)
    gb = math.sqrt(g)
    w0 = 2.0 * math.pi * band.freq_hz / sample_rate
    dw = (band.freq_hz / sample_rate) / (2.0 ** (1.0 / band.width) / (2.0 ** band.width - 1.0))
    f, g00, f00 = abs(g * g - gb * gb), abs(g * g - g0 * g0), abs(gb * gb - g0 * g0)
    nyq = (w0 * w0 - math.pi ** 2) ** 2
    g1 = math.sqrt((g0 * g0 * nyq + g * g * f00 * math.pi ** 2 * dw * dw / f) / (nyq + f00 * math.pi ** 2 * dw * dw / f))
    g01, g11 = abs(g * g - g0 * g1), abs(g * g - g1 * g1)
    f01, f11 = abs(gb * gb - g0 * g1), abs(gb * gb - g1 * g1)
    w2 = math.sqrt(g11 / g00) * math.tan(w0 / 2.0) ** 2
    dww = (1.0 + math.sqrt(f00 / f11) * w2) * math.tan(dw / 2.0)
    c = f11 * dww * dww - 2.0 * w2 * (f01 - math.sqrt(f00 * f11))
    d = 2.0 * w2 * (g01 - math.sqrt(g00 * g11))
    a, b = math.sqrt((c + d) / f), math.sqrt((g * g * c + gb * gb * d) / f)
    n = 1.0 + w2 + a
    return np.array([(g1 + g0 * w2 + b) / n, -2.0 * (g1 - g0 * w2) / n, (g1 - b + g0 * w2) / n,
                     1.0, -2.0 * (1.0 - w2) / n, (1.0 + w2 - a) / n])


BELL_DESIGNS = {"rbj": _rbj_bell, "zam-orfanidis": _zam_orfanidis_bell}

# Profiles whose filters are not RBJ shelves of Q 0.707 and RBJ bells (measured against the real plugins
# in tests/host/test_eqmatch.py). A profile not listed uses FilterDesign().
FILTER_DESIGNS: dict[str, FilterDesign] = {
    "zameq2": FilterDesign(shelf_slope=1.0 / math.sqrt(2.0), bell="zam-orfanidis"),
}


def _rbj_shelf(band: BandSetting, slope: float, sample_rate: int) -> np.ndarray:
    """RBJ cookbook low or high shelf of slope S; the high shelf is the low shelf with cos(w0) negated."""
    a = 10.0 ** (band.gain_db / 40.0)
    w0 = 2.0 * math.pi * band.freq_hz / sample_rate
    alpha = math.sin(w0) / 2.0 * math.sqrt((a + 1.0 / a) * (1.0 / slope - 1.0) + 2.0)
    s = 1.0 if band.type == "low_shelf" else -1.0
    cos_w0, k = math.cos(w0), 2.0 * math.sqrt(a) * alpha
    b = (a * ((a + 1) - s * (a - 1) * cos_w0 + k), s * 2 * a * ((a - 1) - s * (a + 1) * cos_w0),
         a * ((a + 1) - s * (a - 1) * cos_w0 - k))
    den = ((a + 1) + s * (a - 1) * cos_w0 + k, -s * 2 * ((a - 1) + s * (a + 1) * cos_w0),
           (a + 1) + s * (a - 1) * cos_w0 - k)
    return np.array([*b, *den]) / den[0]


def band_sos(band: BandSetting, sample_rate: int, design: FilterDesign = FilterDesign()) -> np.ndarray:
    """One band as a normalized second-order section (6,): b0 b1 b2 1 a1 a2."""
    if band.type == "peak":
        if design.bell not in BELL_DESIGNS:
            raise ProfileError(f"bell design {design.bell!r} is not one of {sorted(BELL_DESIGNS)}")
        return BELL_DESIGNS[design.bell](band, sample_rate)
    if band.type in ("low_shelf", "high_shelf"):
        return _rbj_shelf(band, design.shelf_slope, sample_rate)
    raise ProfileError(f"band type {band.type!r} has no analytic model")


def band_settings(profile: PluginProfile, values: np.ndarray) -> list[BandSetting]:
    """The profile's bands at physical ``values`` (P,), in processing order."""
    v = np.asarray(values, dtype=np.float64)
    names = profile.parameter_names
    if v.shape != (len(names),):
        raise ProfileError(f"profile {profile.name!r} takes {len(names)} values, got shape {v.shape}")
    if not profile.bands:
        raise ProfileError(f"profile {profile.name!r} declares no bands; the analytic response needs them")
    out = []
    for band in profile.bands:
        width, unit = None, None
        if band.width is not None:
            unit = profile.parameter(band.width).unit
            if unit not in WIDTH_UNITS:
                raise ProfileError(f"profile {profile.name!r}: width parameter {band.width!r} has unit {unit!r}; "
                                   f"the analytic response knows {WIDTH_UNITS}")
            width = float(v[names.index(band.width)])
        out.append(BandSetting(band.type, float(v[names.index(band.freq)]), float(v[names.index(band.gain)]),
                               width, unit))
    return out


def analytic_response_db(profile: PluginProfile, values: np.ndarray, freqs_hz: np.ndarray,
                         sample_rate: int) -> np.ndarray:
    """Magnitude response in dB of the profile's bands at physical ``values`` (P,), at ``freqs_hz`` (F,).

    Raises:
        ProfileError: wrong number of values, no bands, or a width unit other than Q or octaves.
    """
    design = FILTER_DESIGNS.get(profile.name, FilterDesign())
    sos = np.stack([band_sos(b, sample_rate, design) for b in band_settings(profile, values)])  # (bands, 6)
    return sos_response_db(sos, freqs_hz, sample_rate)


def sos_response_db(sos: np.ndarray, freqs_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Magnitude in dB of cascaded second-order sections (S, 6) at ``freqs_hz`` (F,).

    The same as ``scipy.signal.sosfreqz`` at those frequencies, evaluated directly (about 20x faster
    for a few sections, which matters inside the fit's loop).
    """
    z1 = np.exp(-2j * np.pi * np.asarray(freqs_hz, dtype=np.float64) / sample_rate)  # (F,)
    z = np.stack([np.ones_like(z1), z1, z1 * z1])                                    # (3, F)
    h = (sos[:, :3] @ z) / (sos[:, 3:] @ z)                                           # (S, F)
    return 20.0 * np.log10(np.maximum(np.abs(np.prod(h, axis=0)), 1e-12))


def fit_grid_hz(sample_rate: int, config: EqMatchConfig = EqMatchConfig()) -> np.ndarray:
    """Log-spaced frequencies (F,) on which the curve is fitted."""
    top = min(config.max_freq_hz, 0.45 * sample_rate)
    n = int(math.floor(math.log2(top / config.min_freq_hz) * config.points_per_octave)) + 1
    return config.min_freq_hz * np.power(2.0, np.arange(n) / config.points_per_octave)


def _band_power(psd: np.ndarray, bin_hz: float, centres_hz: np.ndarray, width_oct: float) -> np.ndarray:
    """Mean power spectral density over [f 2^-w/2, f 2^w/2] around each centre (at least one bin)."""
    cumulative = np.concatenate([[0.0], np.cumsum(psd)])
    lo = np.floor(centres_hz * 2.0 ** (-width_oct / 2) / bin_hz).astype(int)
    hi = np.ceil(centres_hz * 2.0 ** (width_oct / 2) / bin_hz).astype(int)
    lo, hi = np.clip(lo, 0, len(psd) - 1), np.clip(np.maximum(hi, lo + 1), 1, len(psd))
    return (cumulative[hi] - cumulative[lo]) / (hi - lo)


def _smoothed_psd_db(audio: np.ndarray, sample_rate: int, freqs_hz: np.ndarray, config: EqMatchConfig,
                     name: str) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1:
        raise AudioInputError(f"{name} must be mono (samples,), got shape {x.shape}")
    if x.shape[0] < 256 or not np.any(x):
        raise AudioInputError(f"{name} is too short ({x.shape[0]} samples, need 256) or silent")
    bin_hz, psd = signal.welch(x, fs=sample_rate, nperseg=min(config.welch_segment, x.shape[0]))
    power = _band_power(psd, float(bin_hz[1]), freqs_hz, config.smoothing_oct)
    return 10.0 * np.log10(np.maximum(power, 1e-30))


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
