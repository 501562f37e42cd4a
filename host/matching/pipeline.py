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
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from host.audio import AudioClip, read_audio, resample
from host.errors import AudioInputError, OptionError
from host.matching.curve_fit import fit_profile
from host.matching.stereo import CHANNELS, check_mode, check_stereo_clip, encode
from model.curve.restraint import DEFAULT_RESTRAINT, MAX_RESTRAINT, restrain
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
MAX_REFERENCES = 16        # references one match may combine (CLI or OSC)
MAX_WEIGHT = 1000.0        # a reference's weight lies in [0, MAX_WEIGHT]; only their ratios matter
RANGE_LIMITS_HZ = (10.0, 48000.0)  # --range LOW_HZ HIGH_HZ must lie inside this
RANGE_TAPER_OCTAVES = 1 / 3  # inside each edge of --range the curve rises from flat over this many octaves
OUTSIDE_RANGE_WEIGHT = 4.0   # the fit holds bands outside --range flat this much harder than the rest

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
    stereo: str = "link"                  # host.matching.stereo.STEREO_MODES
    link_percent: float | None = None     # mid-side/left-right: 0 independent (default) .. 100 the link curve
    range_hz: tuple[float, float] | None = None  # bands outside (low, high) are left flat
    weights: tuple[float, ...] | None = None     # one per reference; None: equal

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
        self._check_curve_options()

    def _check_curve_options(self) -> None:
        """The stereo modes, --link, --range and --weights work on the curve model's curves."""
        check_mode(self.stereo)
        if self.link_percent is not None:
            if self.stereo == "link":
                raise OptionError("--link blends the two channels' curves: it needs --stereo mid-side or left-right")
            if not (math.isfinite(self.link_percent) and 0.0 <= self.link_percent <= 100.0):
                raise OptionError(f"--link must lie in [0, 100] percent, got {self.link_percent}")
        if self.range_hz is not None:
            low, high = self.range_hz
            lo, hi = RANGE_LIMITS_HZ
            if not (math.isfinite(low) and math.isfinite(high) and lo <= low < high <= hi):
                raise OptionError(f"--range needs LOW_HZ < HIGH_HZ inside [{lo:g}, {hi:g}] Hz, got {low} {high}")
        if self.weights is not None:
            w = self.weights
            if not (1 <= len(w) <= MAX_REFERENCES and all(math.isfinite(x) and 0.0 <= x <= MAX_WEIGHT for x in w)
                    and sum(w) > 0):
                raise OptionError(f"--weights takes 1..{MAX_REFERENCES} numbers in [0, {MAX_WEIGHT:g}], not all "
                                  f"zero; got {list(w)}")
        asked = [name for name, on in (("--stereo " + self.stereo, self.stereo != "link"),
                                       ("--range", self.range_hz is not None),
                                       ("--weights", self.weights is not None)) if on]
        if asked and self.resolved_model() != "curve":
            raise OptionError(f"{', '.join(asked)} work on the curve model's EQ curves; this match uses the "
                              f"classifier (--model curve, and presets/checkpoints/curve.pt installed, for an EQ)")
        if self.refine_s > 0 and (self.range_hz is not None or (self.weights is not None and len(self.weights) > 1)):
            raise OptionError("--refine matches one reference over the whole spectrum: leave out --range and "
                              "the extra references, or --refine")

    @property
    def channel_names(self) -> tuple[str, ...]:
        return CHANNELS[self.stereo]

    @property
    def link_fraction(self) -> float:
        return 0.0 if self.link_percent is None else self.link_percent / 100.0


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


@dataclass(frozen=True)
class TargetCurve:
    """The EQ curve one channel is fitted to: dB per mel band (after restraint, link and range), the model's
    scale per band (the fit's weights), the band centres, and extra fit weights (--range) or None."""

    freqs_hz: np.ndarray
    curve_db: np.ndarray
    scale_db: np.ndarray
    checkpoint: str
    fit_weights: np.ndarray | None = None


def reference_weights(n_references: int, options: MatchOptions) -> np.ndarray:
    """(R,) weights summing to 1 (equal without ``options.weights``).

    Raises:
        OptionError: no reference, more than MAX_REFERENCES, or a weight count that is not the reference count.
    """
    if not 1 <= n_references <= MAX_REFERENCES:
        raise OptionError(f"a match takes 1..{MAX_REFERENCES} references, got {n_references}")
    if options.weights is None:
        return np.full(n_references, 1.0 / n_references)
    if len(options.weights) != n_references:
        n = len(options.weights)
        raise OptionError(f"--weights gives {n} weight{'s' if n != 1 else ''} for {n_references} reference"
                          f"{'s' if n_references != 1 else ''}: give one per reference")
    w = np.asarray(options.weights, dtype=np.float64)
    return w / w.sum()


def _combine(w: np.ndarray, medians: Sequence[np.ndarray], scales: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The weighted mean of per-reference medians and its scale sqrt(sum w^2 b^2) (the references' errors taken
    as independent); one reference keeps its own scale exactly."""
    median = sum(wi * m for wi, m in zip(w, medians))
    scale = np.sqrt(sum((wi * b) ** 2 for wi, b in zip(w, scales))) if len(scales) > 1 else scales[0]
    return median, scale


def _blend(fraction: float, linked: np.ndarray, own: np.ndarray) -> np.ndarray:
    """``fraction`` of the link curve (or scale) and the rest of the channel's own."""
    return fraction * linked + (1.0 - fraction) * own


def _plain(options: MatchOptions, n_references: int) -> bool:
    """Today's single match: link mode, one reference, the whole spectrum (either model)."""
    return options.stereo == "link" and n_references == 1 and options.range_hz is None


def combined_curve(track: np.ndarray, references: Sequence[np.ndarray], sample_rate: int,
                   options: MatchOptions) -> TargetCurve:
    """The curve model's curve for a track against several references: the weighted mean of the per-reference
    medians, its scale sqrt(sum w^2 b^2) (the references' errors taken as independent: three equal references
    give b / sqrt 3), then restraint. With one reference this is exactly ``predict_curve``'s curve.

    Averaging curves rather than the references' statistics, and this scale rather than the mean of the scales:
    chosen on trained-on music and measured on held-out music in examples/stereo_report.py (README).
    """
    from model import predict_curve  # torch-free; loads the weights on first use

    w = reference_weights(len(references), options)
    preds = [predict_curve(track, r, sample_rate, options.checkpoint, restraint=0.0) for r in references]
    median, scale = _combine(w, [p.median_db for p in preds], [p.scale_db for p in preds])
    return TargetCurve(preds[0].freqs_hz, restrain(median, scale, options.restraint), scale, preds[0].checkpoint)


def range_mask(freqs_hz: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """(M,) 1 inside [low, high] and 0 outside, rising from 0 at each edge to 1 a RANGE_TAPER_OCTAVES inside
    it on a raised cosine (a shelf cannot step; a curve that ramps in is one the plugin's bands can follow)."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    octaves_in = np.minimum(np.log2(np.maximum(f, 1e-9) / low_hz), np.log2(high_hz / np.maximum(f, 1e-9)))
    ramp = np.clip(octaves_in / RANGE_TAPER_OCTAVES, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * ramp)


def limit_to_range(target: TargetCurve, range_hz: tuple[float, float] | None) -> TargetCurve:
    """Flatten ``target`` outside ``range_hz`` and weight the bands there OUTSIDE_RANGE_WEIGHT times more in the
    fit, so the plugin's shelves and bells are held near 0 dB there too. ``None`` returns ``target``."""
    if range_hz is None:
        return target
    mask = range_mask(target.freqs_hz, *range_hz)
    weights = np.where(mask > 0.0, 1.0, OUTSIDE_RANGE_WEIGHT)
    return TargetCurve(target.freqs_hz, target.curve_db * mask, target.scale_db, target.checkpoint, weights)


def blend_curves(own: TargetCurve, linked: TargetCurve, fraction: float) -> TargetCurve:
    """``fraction`` of the link curve and the rest of the channel's own (Logic's Channel Link): 1 gives the
    link curve exactly, 0 the channel's own."""
    if fraction == 0.0:
        return own
    return TargetCurve(own.freqs_hz, _blend(fraction, linked.curve_db, own.curve_db),
                       _blend(fraction, linked.scale_db, own.scale_db), own.checkpoint)


def _channel_signals(clip: AudioClip, mode: str, sample_rate: int) -> list[np.ndarray]:
    """The mode's signals of a clip at ``sample_rate``: the channel average for link, else two."""
    if mode == "link":
        return [clip.mono_at(sample_rate)]
    return [np.ascontiguousarray(resample(ch, clip.sample_rate, sample_rate)) for ch in encode(clip.data, mode)]


@dataclass(frozen=True)
class ChannelsOutcome:
    """A match in one stereo mode: one :class:`MatchOutcome` per channel of the mode (``link``: one for all),
    and the curve each was fitted to (None where the classifier or an old single-reference path predicted)."""

    mode: str
    channels: tuple[str, ...]
    outcomes: tuple[MatchOutcome, ...]
    targets: tuple[TargetCurve | None, ...]
    link_percent: float | None = None

    @property
    def values(self) -> tuple[np.ndarray, ...]:
        return tuple(o.values for o in self.outcomes)

    def by_channel(self) -> dict[str, MatchOutcome]:
        return dict(zip(self.channels, self.outcomes))


def check_references(references: Sequence[AudioClip], options: MatchOptions) -> None:
    """Raises OptionError before any prediction: a reference count or weights that do not fit, several
    references without the curve model or with refinement, or a reference with other than two channels in a
    mode that needs two."""
    reference_weights(len(references), options)
    if len(references) > 1 and options.resolved_model() != "curve":
        raise OptionError("several references are combined as the curve model's EQ curves; this match uses the "
                          "classifier (--model curve, and presets/checkpoints/curve.pt installed, for an EQ)")
    if len(references) > 1 and options.refine_s > 0:
        raise OptionError("--refine matches one reference: give one reference, or leave out --refine")
    for k, ref in enumerate(references):
        check_stereo_clip(ref, options.stereo, "reference" if len(references) == 1 else f"reference {k + 1}")


def check_clips(track: AudioClip, references: Sequence[AudioClip], options: MatchOptions) -> None:
    """:func:`check_references`, and the track's channels (OptionError)."""
    check_references(references, options)
    check_stereo_clip(track, options.stereo, "track")


def match_channels(track: AudioClip, references: Sequence[AudioClip], options: MatchOptions,
                   refiner: Refiner | None = None) -> ChannelsOutcome:
    """The pipeline in any stereo mode, with one or several references (``options.weights``) and a range.

    ``link`` with one reference and no range is :func:`match_clips` (today's match, either model). Otherwise,
    per channel of the mode: the weighted mean of the references' curves, blended with the link curve by
    ``--link``, flattened outside ``--range``, fitted to the plugin, refined on that channel's signals when
    asked, then amount and cap.

    Raises:
        OptionError: as :func:`check_clips`; AudioInputError: a channel the model refuses (e.g. a silent side:
            the message names the channel), and as :func:`estimate`.
    """
    check_clips(track, references, options)
    mode, names = options.stereo, options.channel_names
    if _plain(options, len(references)):
        return ChannelsOutcome(mode, names, (match_clips(track, references[0], options, refiner),), (None,))
    rate = track.sample_rate
    t_signals = _channel_signals(track, mode, rate)
    r_signals = [_channel_signals(r, mode, rate) for r in references]
    linked = None
    if options.link_fraction > 0.0:
        linked = combined_curve(track.mono(), [r.mono_at(rate) for r in references], rate, options)
    targets, outcomes = [], []
    for c, name in enumerate(names):
        refs = [signals[c] for signals in r_signals]
        try:
            own = combined_curve(t_signals[c], refs, rate, options) if options.link_fraction < 1.0 else linked
        except AudioInputError as exc:
            if mode == "link":
                raise
            raise AudioInputError(f"--stereo {mode}, {name} channel: {exc} (a nearly mono file has no side: "
                                  f"use --stereo link)") from exc
        target = limit_to_range(blend_curves(own, linked, options.link_fraction) if linked is not None else own,
                                options.range_hz)
        predicted = fit_profile(options.profile, target.curve_db, target.scale_db, target.fit_weights)
        refined = None
        if options.refine_s > 0:
            if refiner is None:
                raise OptionError("refinement needs a plugin to render through; this caller has none")
            refined = refiner(t_signals[c], refs[0], rate, options.refine_s, predicted, None)
        est = Estimate(predicted, refined.values if refined is not None else predicted, target.checkpoint, None,
                       refined)
        targets.append(target)
        outcomes.append(finish(est, options))
    return ChannelsOutcome(mode, names, tuple(outcomes), tuple(targets), options.link_percent)


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


def channel_segment_values(track: AudioClip, references: Sequence[AudioClip], options: MatchOptions,
                           hop_s: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """:func:`segment_values` in any stereo mode, with several references and a range: per channel of the mode,
    (segment starts (T,) s, physical values (T, P), segment length s), each segment's curve made as
    :func:`match_channels` makes the whole track's (weighted mean, restraint, link blend, range, fit).

    Raises as :func:`match_channels`.
    """
    check_clips(track, references, options)
    rate = track.sample_rate
    if _plain(options, len(references)):
        return [segment_values(track.mono(), references[0].mono_at(rate), rate, options, hop_s)]
    from model import predict_curve_segments  # torch-free

    w = reference_weights(len(references), options)

    def curves(t: np.ndarray, refs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
        segs = [predict_curve_segments(t, r, rate, hop_s, checkpoint=options.checkpoint, restraint=0.0) for r in refs]
        median, scale = _combine(w, [s.curve_db for s in segs], [s.scale_db for s in segs])
        return segs[0].times_s, restrain(median, scale, options.restraint), scale, segs[0].segment_s, segs[0].freqs_hz

    t_signals = _channel_signals(track, options.stereo, rate)
    r_signals = [_channel_signals(r, options.stereo, rate) for r in references]
    f = options.link_fraction
    linked = curves(track.mono(), [r.mono_at(rate) for r in references]) if f > 0.0 else None
    out = []
    for c in range(len(t_signals)):
        times, curve, scale, seg_s, freqs = curves(t_signals[c], [s[c] for s in r_signals]) if f < 1.0 else linked
        if linked is not None:
            curve, scale = _blend(f, linked[1], curve), _blend(f, linked[2], scale)
        values = []
        for k in range(len(times)):
            target = limit_to_range(TargetCurve(freqs, curve[k], scale[k], ""), options.range_hz)
            values.append(fit_profile(options.profile, target.curve_db, target.scale_db, target.fit_weights))
        out.append((times, np.stack(values), seg_s))
    return out
