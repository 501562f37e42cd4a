"""EQ filter designs, the one place: RBJ Audio EQ Cookbook shelves and bells (R. Bristow-Johnson) and
ZamEQ2's Orfanidis bells, as second-order sections, and the analytic magnitude response of a profile's bands.

faust-peq (Simper SVFs) and lsp-para-eq ("APO (DR)" filters) implement the RBJ responses; zameq2 has RBJ
shelves of slope 0.707 and Orfanidis bells with its own bandwidth mapping (:data:`FILTER_DESIGNS`).
tests/host/test_eqmatch.py checks each against the real plugin's measured response. Used by the DSP
EQ-match fit (host.evaluation.dsp_fit), the bundled clips' reference EQ (examples/audio/make_clips.py)
and the model tests' synthetic data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from host.errors import ProfileError
from model.profiles import PluginProfile

WIDTH_UNITS = ("Q", "oct")
ORFANIDIS_FLAT_DB = 1e-4  # a ZamEQ2 bell gentler than this is taken as flat (its response differs by < 1e-4 dB)


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


def rbj_bell(band: BandSetting, sample_rate: int) -> np.ndarray:
    """RBJ cookbook peaking EQ; a width in octaves is converted to Q with :func:`octaves_to_q`."""
    q = band.width if band.width_unit == "Q" else float(octaves_to_q(band.width))
    a = 10.0 ** (band.gain_db / 40.0)
    w0 = 2.0 * math.pi * band.freq_hz / sample_rate
    alpha = math.sin(w0) / (2.0 * q)
    b = (1.0 + alpha * a, -2.0 * math.cos(w0), 1.0 - alpha * a)
    den = (1.0 + alpha / a, -2.0 * math.cos(w0), 1.0 - alpha / a)
    return np.array([*b, *den]) / den[0]


def zam_orfanidis_bell(band: BandSetting, sample_rate: int) -> np.ndarray:
    """ZamEQ2's bell: Orfanidis' prescribed-Nyquist-gain design (JAES 1997) with the band-edge gain at half
    the peak gain in dB, and ZamEQ2's own bandwidth mapping: Q' = 2^(1/N) / (2^N - 1) from N octaves and
    a bandwidth of (f / sample_rate) / Q' taken as radians (reproduces ZamEQ2 4.1, measured)."""
    if band.width_unit != "oct":
        raise ProfileError(f"the ZamEQ2 bell takes a bandwidth in octaves, got unit {band.width_unit!r}")
    if abs(band.gain_db) < ORFANIDIS_FLAT_DB:  # the design divides by ~(gain - 1): identity near 0 dB
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


BELL_DESIGNS = {"rbj": rbj_bell, "zam-orfanidis": zam_orfanidis_bell}

# Profiles whose filters are not RBJ shelves of Q 0.707 and RBJ bells (measured against the real plugins
# in tests/host/test_eqmatch.py). A profile not listed uses FilterDesign().
FILTER_DESIGNS: dict[str, FilterDesign] = {
    "zameq2": FilterDesign(shelf_slope=1.0 / math.sqrt(2.0), bell="zam-orfanidis"),
}


def rbj_shelf(band: BandSetting, slope: float, sample_rate: int) -> np.ndarray:
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
        return rbj_shelf(band, design.shelf_slope, sample_rate)
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
    """Magnitude response in dB of the profile's bands at physical ``values`` (P,), at ``freqs_hz`` (F,): (F,);
    for a batch of settings ``values`` (N, P), (N, F).

    Raises:
        ProfileError: wrong number of values, no bands, or a width unit other than Q or octaves.
    """
    design = FILTER_DESIGNS.get(profile.name, FilterDesign())
    batch = np.asarray(values, dtype=np.float64)
    rows = batch if batch.ndim == 2 else batch[None]
    sos = np.stack([np.stack([band_sos(b, sample_rate, design) for b in band_settings(profile, v)])
                    for v in rows])                                                   # (N, bands, 6)
    response = sos_response_db(sos, freqs_hz, sample_rate)                           # (N, F)
    return response if batch.ndim == 2 else response[0]


def sos_response_db(sos: np.ndarray, freqs_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Magnitude in dB of cascaded second-order sections (..., S, 6) at ``freqs_hz`` (F,): (..., F).

    The same as ``scipy.signal.sosfreqz`` at those frequencies, evaluated directly (about 20x faster
    for a few sections, which matters inside the fit's loop).
    """
    z1 = np.exp(-2j * np.pi * np.asarray(freqs_hz, dtype=np.float64) / sample_rate)  # (F,)
    z = np.stack([np.ones_like(z1), z1, z1 * z1])                                    # (3, F)
    h = (sos[..., :3] @ z) / (sos[..., 3:] @ z)                                       # (..., S, F)
    return 20.0 * np.log10(np.maximum(np.abs(np.prod(h, axis=-2)), 1e-12))
