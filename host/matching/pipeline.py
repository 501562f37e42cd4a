"""The one matching pipeline: read -> validate -> predict -> refine -> amount/cap -> settings.

``eqbridge match``, ``eqbridge apply``, ``eqbridge explore`` and the OSC handlers all go through here;
each adds only what is its own (rendering and writing files, per-stem reports, latent variants, OSC
replies). The model is reached through its public API (``model.predict``) and nothing here renders:
refinement, which does, is handed in as a :data:`Refiner` so that the OSC server can run it in its
own process while the CLI runs it in-process (``host.matching.refine.plugin_refiner``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from host.audio import AudioClip, read_audio
from host.errors import OptionError
from host.matching.curve_fit import fit_profile
from model.curve.restraint import DEFAULT_RESTRAINT, MAX_RESTRAINT
from model.profiles import CURVE_CHECKPOINT, PluginProfile

if TYPE_CHECKING:  # refine renders through DawDreamer; the pipeline itself never does
    from host.matching.refine import RefineResult

log = logging.getLogger(__name__)

AMOUNT_RANGE_PERCENT = (-200.0, 200.0)
MAX_REFINE_S = 60.0       # the longest refinement any caller may ask for (CLI or OSC)
MAX_GAIN_CAP_DB = 48.0    # the largest --max-gain-db accepted (every profile's gains lie well inside it)
EXPLORE_MAX_VARIANTS = 64  # variants one explore gives at most (CLI or OSC)
MODELS = ("auto", "curve", "classifier")  # auto: the curve model for an EQ when it is installed
EXPLORE_MAX_RADIUS = 10.0  # latent units; the prior is N(0, I), so points beyond ~4 decode to clipped settings

# (track mono, reference mono at the track's rate, sample rate, budget s, start (P,), probabilities (P, D) or
# None) -> the refined setting. Implementations: refine.plugin_refiner (in-process), refine.RefineProcess.
Refiner = Callable[[np.ndarray, np.ndarray, int, float, np.ndarray, "np.ndarray | None"], "RefineResult"]


@dataclass(frozen=True)
class MatchOptions:
    """What a caller may choose about one match (checked here, once, for every caller).

    Raises:
        OptionError: a refinement budget outside [0, MAX_REFINE_S] s, an amount outside AMOUNT_RANGE_PERCENT,
            a gain cap that is not a finite number in [0, MAX_GAIN_CAP_DB] dB.
    """

    profile: PluginProfile
    checkpoint: Path | None = None        # None: the model's default for the profile
    model: str = "auto"                   # one of MODELS
    refine_s: float = 0.0                 # > 0: refine the prediction this long through the plugin
    amount_percent: float = 100.0         # scales every *_gain_db: 0 flat, 100 as predicted, -100 inverted
    max_gain_db: float | None = None      # caps every band's boost and cut; None: the profile's range only
    restraint: float = DEFAULT_RESTRAINT  # curve model: shrink unsure bands toward flat (model.curve.restraint)

    def resolved_model(self) -> str:
        """"curve" or "classifier": what :func:`estimate` will use."""
        if self.model != "auto":
            return self.model
        installed = CURVE_CHECKPOINT.is_file()
        return "curve" if self.profile.is_eq and self.checkpoint is None and installed else "classifier"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.refine_s) and 0.0 <= self.refine_s <= MAX_REFINE_S):
            raise OptionError(f"--refine must be a number of seconds in [0, {MAX_REFINE_S:g}], got {self.refine_s}")
        lo, hi = AMOUNT_RANGE_PERCENT
        if not (math.isfinite(self.amount_percent) and lo <= self.amount_percent <= hi):
            raise OptionError(f"--amount must lie in [{lo:g}, {hi:g}] percent, got {self.amount_percent}")
        if self.max_gain_db is not None and not (math.isfinite(self.max_gain_db)
                                                 and 0.0 <= self.max_gain_db <= MAX_GAIN_CAP_DB):
            raise OptionError(f"--max-gain-db must be a number of dB in [0, {MAX_GAIN_CAP_DB:g}], got "
                              f"{self.max_gain_db}")
        if not (math.isfinite(self.restraint) and 0.0 <= self.restraint <= MAX_RESTRAINT):
            raise OptionError(f"--restraint must lie in [0, {MAX_RESTRAINT:g}], got {self.restraint}")
        if self.model not in MODELS:
            raise OptionError(f"--model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.model == "curve" and not self.profile.is_eq:
            raise OptionError(f"--model curve predicts an EQ curve; profile {self.profile.name!r} is a "
                              f"{self.profile.effect} profile: use --model classifier")
        if self.refine_s > 0 and not self.profile.is_eq:
            raise OptionError(f"--refine matches tonal balance through an EQ; profile {self.profile.name!r} is a "
                              f"{self.profile.effect} profile: use its one-shot prediction")


@dataclass(frozen=True)
class MatchedSettings:
    """Settings for one plugin, in physical units and as the plugin's own normalized values."""

    profile: str
    values: dict[str, float]        # name (with unit suffix) -> physical value
    normalized: dict[str, float]    # name -> plugin-normalized 0..1 value
    indices: dict[str, int]         # name -> the plugin's parameter index
    checkpoint: str
    probabilities: np.ndarray | None = None  # (P, D) softmax per parameter, when predicted

    def to_json(self, identity: object | None = None, **extra: object) -> dict:
        out = {"plugin": self.profile, "values": self.values,
               "normalized": {n: {"index": self.indices.get(n), "value": v} for n, v in self.normalized.items()},
               "checkpoint": self.checkpoint}
        if identity is not None:
            out["plugin_identity"] = dict(vars(identity))
        out.update(extra)
        return out


def settings_from_values(profile: PluginProfile, values: np.ndarray, indices: tuple[int, ...],
                         checkpoint: str, probabilities: np.ndarray | None = None) -> MatchedSettings:
    """Physical values (P,) -> :class:`MatchedSettings` (clipped to the profile's range)."""
    values = profile.clip(values)
    norms = profile.to_norm(values)
    names = profile.parameter_names
    return MatchedSettings(profile.name, profile.values_dict(values),
                           {n: float(v) for n, v in zip(names, norms)},
                           dict(zip(names, indices)), checkpoint, probabilities)


@dataclass(frozen=True)
class GainChange:
    """What happened to one *_gain_db parameter between the prediction and the plugin."""

    name: str
    predicted_db: float
    requested_db: float       # predicted * amount / 100
    applied_db: float         # after the --max-gain-db cap and the profile's range
    capped_by_max_gain: bool
    clipped_to_range: bool


def gain_parameter_names(profile: PluginProfile) -> tuple[str, ...]:
    return tuple(p.name for p in profile.parameters if p.name.endswith("_gain_db"))


def scale_gains(profile: PluginProfile, values: np.ndarray, amount_percent: float,
                max_gain_db: float | None = None) -> tuple[np.ndarray, tuple[GainChange, ...]]:
    """Scale the curve: every *_gain_db times amount/100, capped at ±max_gain_db, clipped to the profile.

    Frequencies and widths are kept. Returns the new physical values (P,) and one GainChange per gain.
    """
    out = np.asarray(values, dtype=np.float64).copy()
    factor = amount_percent / 100.0  # exactly 1.0 at 100%: the prediction passes through bit for bit
    changes = []
    for name in gain_parameter_names(profile):
        i = profile.parameter_names.index(name)
        spec = profile.parameters[i]
        requested = float(out[i]) * factor
        capped = requested if max_gain_db is None else float(np.clip(requested, -max_gain_db, max_gain_db))
        applied = float(spec.clip(capped))
        out[i] = applied
        changes.append(GainChange(name, float(values[i]), requested, applied,
                                  capped_by_max_gain=capped != requested, clipped_to_range=applied != capped))
    return out, tuple(changes)


@dataclass(frozen=True)
class Estimate:
    """The model's prediction for one track and reference, refined when asked."""

    predicted: np.ndarray             # (P,) physical, the model's one-shot values
    values: np.ndarray                # (P,) physical, after refinement (== predicted without it)
    checkpoint: str
    probabilities: np.ndarray | None  # (P, D) the model's softmax, None for a setting given from outside
    refined: "RefineResult | None" = None


@dataclass(frozen=True)
class MatchOutcome:
    """One match, ready for a plugin: the estimate, then amount and cap applied."""

    profile: PluginProfile
    estimate: Estimate
    values: np.ndarray                # (P,) physical: what goes into the plugin
    gain_changes: tuple[GainChange, ...]

    def settings(self, indices: tuple[int, ...]) -> MatchedSettings:
        return settings_from_values(self.profile, self.values, indices, self.estimate.checkpoint,
                                    self.estimate.probabilities)

    def values_dict(self) -> dict[str, float]:
        return self.profile.values_dict(self.values)

    def normalized(self) -> tuple[float, ...]:
        """(P,) the plugin's normalized 0..1 values."""
        return tuple(float(n) for n in self.profile.to_norm(self.values))


def read_pair(track_path: Path | str, reference_path: Path | str) -> tuple[AudioClip, AudioClip]:
    """Read both clips (channels, rate and subtype kept). Raises AudioInputError as ``read_audio``."""
    return read_audio(track_path), read_audio(reference_path)


def estimate(track: np.ndarray, reference: np.ndarray, sample_rate: int, options: MatchOptions,
             refiner: Refiner | None = None) -> Estimate:
    """Predict (and, with ``options.refine_s`` > 0, refine) the settings for a track and a reference.

    ``track`` and ``reference`` are mono (samples,) float32 at ``sample_rate``.

    Raises:
        AudioInputError: silent, too short, NaN... (from the model). OptionError: refinement asked without a
        refiner. ProfileError / CheckpointError: unknown profile, missing checkpoint.
    """
    profile = options.profile
    if options.resolved_model() == "curve":
        predicted, checkpoint, probabilities = _curve_settings(track, reference, sample_rate, options)
    else:
        from model import predict  # the one door from host/ into the model: torch loads only when predicting

        prediction = predict(track, reference, sample_rate, profile, options.checkpoint)
        predicted = profile.values_from_dict(prediction.values)
        checkpoint, probabilities = prediction.checkpoint, prediction.probabilities
    refined = None
    if options.refine_s > 0:
        if refiner is None:
            raise OptionError("refinement needs a plugin to render through; this caller has none")
        refined = refiner(track, reference, sample_rate, options.refine_s, predicted, probabilities)
    values = refined.values if refined is not None else predicted
    return Estimate(predicted, values, checkpoint, probabilities, refined)


def _curve_settings(track: np.ndarray, reference: np.ndarray, sample_rate: int,
                    options: MatchOptions) -> tuple[np.ndarray, str, None]:
    """The curve model's curve, fitted to the profile's plugin (host.matching.curve_fit)."""
    from model import predict_curve  # torch loads only when predicting

    curve = predict_curve(track, reference, sample_rate, options.checkpoint, restraint=options.restraint)
    return fit_profile(options.profile, curve.curve_db, curve.scale_db), curve.checkpoint, None


def finish(est: Estimate, options: MatchOptions) -> MatchOutcome:
    """Apply ``options``' amount and gain cap to an estimate."""
    values, changes = scale_gains(options.profile, est.values, options.amount_percent, options.max_gain_db)
    return MatchOutcome(options.profile, est, values, changes)


def match_audio(track: np.ndarray, reference: np.ndarray, sample_rate: int, options: MatchOptions,
                refiner: Refiner | None = None) -> MatchOutcome:
    """The whole pipeline on audio already read: :func:`estimate`, then :func:`finish`."""
    return finish(estimate(track, reference, sample_rate, options, refiner), options)


def estimate_clips(track: AudioClip, reference: AudioClip, options: MatchOptions,
                   refiner: Refiner | None = None) -> Estimate:
    """:func:`estimate` on clips as read: the model hears the channel average, the reference at the track's rate."""
    if track.sample_rate != reference.sample_rate:
        log.info("reference at %d Hz, track at %d Hz: the reference is resampled", reference.sample_rate,
                 track.sample_rate)
    return estimate(track.mono(), reference.mono_at(track.sample_rate), track.sample_rate, options, refiner)


def match_clips(track: AudioClip, reference: AudioClip, options: MatchOptions,
                refiner: Refiner | None = None) -> MatchOutcome:
    """The whole pipeline on clips as read: :func:`estimate_clips`, then :func:`finish`."""
    return finish(estimate_clips(track, reference, options, refiner), options)


def segment_values(track: np.ndarray, reference: np.ndarray, sample_rate: int, options: MatchOptions,
                   hop_s: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Settings per track segment against the whole reference, for automation: (segment starts (T,) s,
    physical values (T, P), segment length s). Raises as :func:`estimate`."""
    if options.resolved_model() == "curve":
        from model import predict_curve_segments  # torch loads only when predicting

        curves = predict_curve_segments(track, reference, sample_rate, hop_s, checkpoint=options.checkpoint,
                                        restraint=options.restraint)
        values = np.stack([fit_profile(options.profile, c, s) for c, s in zip(curves.curve_db, curves.scale_db)])
        return curves.times_s, values, curves.segment_s
    from model import predict_segments

    segments = predict_segments(track, reference, sample_rate, options.profile, options.checkpoint, hop_s=hop_s)
    return segments.times_s, segments.values, segments.segment_s
