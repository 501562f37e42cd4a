"""Plugin profiles: physical units <-> a plugin's normalized parameters, and the model's D-bin grid.

A profile is data (``presets/plugins/<name>.json``) loaded into frozen dataclasses. This module is
pure Python and NumPy (no DawDreamer), so ``model/`` shares the same definition as ``host/``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from model.errors import ProfileError

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
PROFILES_DIR = PRESETS_DIR / "plugins"
CURVE_CHECKPOINT = PRESETS_DIR / "checkpoints" / "curve.pt"  # the shipped curve model (one for every EQ profile)
N_BINS = 21  # D in Mimilakis et al. 2020: discrete values per parameter
SCALES = ("linear", "log")
BAND_TYPES = ("low_shelf", "peak", "high_shelf")
EFFECTS = ("eq", "dynamics")  # "eq" profiles have bands; other effects have none (no EQ curve, no tonal refine)


def _to_unit(value: np.ndarray | float, lo: float, hi: float, scale: str) -> np.ndarray:
    """Map [lo, hi] on a linear or log scale to [0, 1]."""
    v = np.asarray(value, dtype=np.float64)
    if scale == "log":
        return np.log(v / lo) / math.log(hi / lo)
    return (v - lo) / (hi - lo)


def _from_unit(unit: np.ndarray | float, lo: float, hi: float, scale: str) -> np.ndarray:
    u = np.asarray(unit, dtype=np.float64)
    if scale == "log":
        return lo * np.power(hi / lo, u)
    return lo + u * (hi - lo)


@dataclass(frozen=True)
class ParameterSpec:
    """One controlled parameter: its physical range for the model and the plugin's own mapping.

    ``min``/``max``/``scale`` span the values eqbridge samples and predicts (the D-bin grid);
    ``plugin_min``/``plugin_max``/``plugin_scale`` describe how the plugin maps its normalized
    0..1 value to the same physical unit.
    """

    name: str
    unit: str
    min: float
    max: float
    scale: str
    default: float
    plugin_name: str
    plugin_min: float
    plugin_max: float
    plugin_scale: str
    index: int | None = None  # plugin parameter index; None: resolved by name at load time

    def __post_init__(self) -> None:
        for field, scale in (("scale", self.scale), ("plugin_scale", self.plugin_scale)):
            if scale not in SCALES:
                raise ProfileError(f"parameter {self.name!r}: {field} {scale!r} is not one of {SCALES}")
        if not self.min < self.max:
            raise ProfileError(f"parameter {self.name!r}: min {self.min} must be below max {self.max}")
        if not (self.plugin_min <= self.min and self.max <= self.plugin_max):
            raise ProfileError(f"parameter {self.name!r}: range [{self.min}, {self.max}] lies outside the "
                               f"plugin's [{self.plugin_min}, {self.plugin_max}]")

    def to_norm(self, value: np.ndarray | float) -> np.ndarray:
        """Physical value -> the plugin's normalized 0..1 value."""
        return _to_unit(value, self.plugin_min, self.plugin_max, self.plugin_scale)

    def from_norm(self, norm: np.ndarray | float) -> np.ndarray:
        """The plugin's normalized 0..1 value -> physical value."""
        return _from_unit(norm, self.plugin_min, self.plugin_max, self.plugin_scale)

    def grid(self, n_bins: int = N_BINS) -> np.ndarray:
        """The n_bins physical values the model predicts between, evenly spaced on ``scale``."""
        return _from_unit(np.linspace(0.0, 1.0, n_bins), self.min, self.max, self.scale)

    def to_bin(self, value: np.ndarray | float, n_bins: int = N_BINS) -> np.ndarray:
        """Nearest grid bin (0..n_bins-1) of a physical value, clipped to the range."""
        u = np.clip(_to_unit(value, self.min, self.max, self.scale), 0.0, 1.0)
        return np.rint(u * (n_bins - 1)).astype(np.int64)

    def from_bin(self, bins: np.ndarray | float, n_bins: int = N_BINS) -> np.ndarray:
        """Physical value of a (possibly fractional) bin position."""
        return _from_unit(np.asarray(bins, dtype=np.float64) / (n_bins - 1), self.min, self.max, self.scale)

    def to_unit(self, value: np.ndarray | float) -> np.ndarray:
        """Physical value -> 0..1 across the model's range (the 'normalized' MAE domain)."""
        return _to_unit(value, self.min, self.max, self.scale)

    def from_unit(self, unit: np.ndarray | float) -> np.ndarray:
        """0..1 across the model's range -> physical value."""
        return _from_unit(unit, self.min, self.max, self.scale)

    def clip(self, value: np.ndarray | float) -> np.ndarray:
        return np.clip(np.asarray(value, dtype=np.float64), self.min, self.max)


@dataclass(frozen=True)
class FixedParameter:
    """A plugin parameter held at one value (band type, filter mode, output gain...)."""

    plugin_name: str
    value_norm: float
    index: int | None = None
    text: str | None = None  # what the plugin displays at value_norm, checked in tests


@dataclass(frozen=True)
class Band:
    """One EQ band: its type and the names of the parameters that control it."""

    name: str
    type: str
    gain: str
    freq: str
    width: str | None = None  # Q or bandwidth in octaves; shelves have a fixed slope

    def __post_init__(self) -> None:
        if self.type not in BAND_TYPES:
            raise ProfileError(f"band {self.name!r}: type {self.type!r} is not one of {BAND_TYPES}")


@dataclass(frozen=True)
class PluginProfile:
    """Everything eqbridge knows about one plugin. Load with :func:`load_profile`."""

    name: str
    display_name: str
    backend: str  # "vst" (a plugin binary) or "faust" (DSP source compiled by DawDreamer)
    channels: int
    preroll_s: float
    parameters: tuple[ParameterSpec, ...]
    fixed: tuple[FixedParameter, ...]
    bands: tuple[Band, ...]
    plugin_paths: tuple[str, ...] = ()
    debian_package: str | None = None
    dsp_file: str | None = None
    sha256: str = ""
    effect: str = "eq"  # one of EFFECTS; profiles without the key are EQs

    @property
    def is_eq(self) -> bool:
        """Whether the profile describes an EQ (bands, a magnitude curve, a tonal objective)."""
        return self.effect == "eq"

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def n_params(self) -> int:
        return len(self.parameters)

    def parameter(self, name: str) -> ParameterSpec:
        for spec in self.parameters:
            if spec.name == name:
                return spec
        raise ProfileError(f"profile {self.name!r} has no parameter {name!r}; it has {list(self.parameter_names)}")

    def default_values(self) -> np.ndarray:
        return np.array([p.default for p in self.parameters], dtype=np.float64)

    def to_norm(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """Physical values (P,) or (..., P) -> plugin-normalized values, same shape."""
        v = np.asarray(values, dtype=np.float64)
        self._check_width(v)
        return np.stack([p.to_norm(v[..., i]) for i, p in enumerate(self.parameters)], axis=-1)

    def from_norm(self, norms: Sequence[float] | np.ndarray) -> np.ndarray:
        n = np.asarray(norms, dtype=np.float64)
        self._check_width(n)
        return np.stack([p.from_norm(n[..., i]) for i, p in enumerate(self.parameters)], axis=-1)

    def to_bins(self, values: Sequence[float] | np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        self._check_width(v)
        return np.stack([p.to_bin(v[..., i], n_bins) for i, p in enumerate(self.parameters)], axis=-1)

    def from_bins(self, bins: Sequence[float] | np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
        b = np.asarray(bins, dtype=np.float64)
        self._check_width(b)
        return np.stack([p.from_bin(b[..., i], n_bins) for i, p in enumerate(self.parameters)], axis=-1)

    def to_unit(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        self._check_width(v)
        return np.stack([p.to_unit(v[..., i]) for i, p in enumerate(self.parameters)], axis=-1)

    def from_unit(self, units: Sequence[float] | np.ndarray) -> np.ndarray:
        u = np.asarray(units, dtype=np.float64)
        self._check_width(u)
        return np.stack([p.from_unit(u[..., i]) for i, p in enumerate(self.parameters)], axis=-1)

    def clip(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        self._check_width(v)
        return np.stack([p.clip(v[..., i]) for i, p in enumerate(self.parameters)], axis=-1)

    def values_dict(self, values: Sequence[float] | np.ndarray) -> dict[str, float]:
        v = np.asarray(values, dtype=np.float64)
        self._check_width(v)
        return {p.name: float(x) for p, x in zip(self.parameters, v)}

    def values_from_dict(self, values: Mapping[str, float]) -> np.ndarray:
        """Named physical values -> (P,) array; missing names take the default, unknown names fail."""
        unknown = set(values) - set(self.parameter_names)
        if unknown:
            raise ProfileError(f"profile {self.name!r} has no parameter(s) {sorted(unknown)}; "
                               f"it has {list(self.parameter_names)}")
        return np.array([float(values.get(p.name, p.default)) for p in self.parameters])

    def sample_bins(self, rng: np.random.Generator, n_bins: int = N_BINS) -> np.ndarray:
        """Random settings on the model's grid: (P,) bin indices, uniform per parameter."""
        return rng.integers(0, n_bins, size=self.n_params)

    def _check_width(self, v: np.ndarray) -> None:
        if v.ndim == 0 or v.shape[-1] != self.n_params:
            raise ProfileError(f"profile {self.name!r} takes {self.n_params} values "
                               f"({list(self.parameter_names)}), got shape {v.shape}")

    def dsp_source(self) -> str:
        if self.dsp_file is None:
            raise ProfileError(f"profile {self.name!r} is not a Faust profile")
        return Path(self.dsp_file).read_text()


def available_profiles(effect: str | None = "eq") -> list[str]:
    """Shipped profile names of one effect (default: the EQs, which EQ-physics tests iterate); None: all."""
    names = sorted(p.stem for p in PROFILES_DIR.glob("*.json"))
    if effect is None:
        return names
    return [n for n in names if json.loads((PROFILES_DIR / f"{n}.json").read_text()).get("effect", "eq") == effect]


def load_profile(name_or_path: str | Path) -> PluginProfile:
    """Load a shipped profile by name (``zameq2``) or a profile JSON file by path.

    Raises:
        ProfileError: the name is unknown or the file is malformed.
    """
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = PROFILES_DIR / f"{name_or_path}.json"
        if not path.exists():
            raise ProfileError(f"unknown plugin profile {str(name_or_path)!r}; "
                               f"known profiles: {', '.join(available_profiles(effect=None))}")
    try:
        raw_bytes = path.read_bytes()
        raw = json.loads(raw_bytes)
    except (OSError, json.JSONDecodeError) as exc:
        raise ProfileError(f"cannot read plugin profile {path}: {exc}") from exc
    digest = hashlib.sha256(raw_bytes)
    if raw.get("dsp_file"):
        digest.update((path.parent / raw["dsp_file"]).read_bytes())
    try:
        profile = PluginProfile(
            name=raw["name"],
            display_name=raw.get("display_name", raw["name"]),
            backend=raw["backend"],
            channels=int(raw.get("channels", 1)),
            preroll_s=float(raw.get("preroll_s", 0.0)),
            parameters=tuple(ParameterSpec(**p) for p in raw["parameters"]),
            fixed=tuple(FixedParameter(**f) for f in raw.get("fixed", [])),
            bands=tuple(Band(**b) for b in raw.get("bands", [])),
            plugin_paths=tuple(raw.get("plugin_paths", [])),
            debian_package=raw.get("debian_package"),
            dsp_file=str(path.parent / raw["dsp_file"]) if raw.get("dsp_file") else None,
            sha256=digest.hexdigest(),
            effect=raw.get("effect", "eq"),
        )
    except (KeyError, TypeError) as exc:
        raise ProfileError(f"malformed plugin profile {path}: {exc!r}") from exc
    if profile.backend not in ("vst", "faust"):
        raise ProfileError(f"profile {profile.name!r}: backend {profile.backend!r} is not 'vst' or 'faust'")
    if profile.effect not in EFFECTS:
        raise ProfileError(f"profile {profile.name!r}: effect {profile.effect!r} is not one of {EFFECTS}")
    names = set(profile.parameter_names)
    for band in profile.bands:
        for ref in (band.gain, band.freq, band.width):
            if ref is not None and ref not in names:
                raise ProfileError(f"profile {profile.name!r}: band {band.name!r} names unknown parameter {ref!r}")
    return profile
