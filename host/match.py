"""`eqbridge match`: predict a real plugin's settings from a reference, render the track through it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from host.atomic import write_json_atomic
from host.audio import AudioClip, read_audio, write_audio_atomic
from host.errors import AudioInputError, ProfileError
from host.profiles import PluginProfile, load_profile

log = logging.getLogger(__name__)


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
    values = profile.clip(values)
    norms = profile.to_norm(values)
    names = profile.parameter_names
    return MatchedSettings(profile.name, profile.values_dict(values),
                           {n: float(v) for n, v in zip(names, norms)},
                           dict(zip(names, indices)), checkpoint, probabilities)


def predict_settings(track: AudioClip, reference: AudioClip, profile: PluginProfile,
                     checkpoint: str | Path | None = None) -> tuple[np.ndarray, str, np.ndarray]:
    """(physical values (P,), checkpoint used, probabilities (P, D)) from the model's inference API."""
    from model import predict  # the one door from host/ into model/

    if track.sample_rate != reference.sample_rate:
        log.info("reference at %d Hz, track at %d Hz: the model resamples both", reference.sample_rate,
                 track.sample_rate)
    ref = reference.mono_at(track.sample_rate)
    prediction = predict(track.mono(), ref, track.sample_rate, profile, checkpoint)
    values = profile.values_from_dict(prediction.values)
    return values, prediction.checkpoint, prediction.probabilities


@dataclass(frozen=True)
class MatchResult:
    settings: MatchedSettings
    out_path: Path
    settings_path: Path | None
    plot_path: Path | None
    peak_dbfs: float


def match(track_path: Path | str, reference_path: Path | str, out_path: Path | str, plugin: str = "faust-peq",
          settings_out: Path | str | None = None, plot: Path | str | None = None,
          checkpoint: Path | str | None = None, refine_s: float = 0.0) -> MatchResult:
    """Match a track to a reference through a real plugin; write audio, settings JSON and a curve PNG.

    The output keeps the track's sample rate, channels, length and subtype (FLAC/WAV by extension).
    ``refine_s`` > 0 refines the prediction for that many seconds through the plugin (host/refine.py).

    Raises:
        AudioInputError: unreadable, silent or too short clips, or an output that would overwrite an input.
        ProfileError / PluginNotFoundError: unknown profile or plugin not installed.
    """
    from host.render import PluginHost

    out_path = Path(out_path)
    for given in (track_path, reference_path):
        if out_path.resolve() == Path(given).resolve():
            raise AudioInputError(f"--out {out_path} would overwrite an input; choose another file")
    profile = load_profile(plugin)
    if plot and not profile.is_eq:
        raise ProfileError(f"--plot draws an EQ curve; profile {profile.name!r} is a {profile.effect} profile")
    track, reference = read_audio(track_path), read_audio(reference_path)
    values, ckpt, probs = predict_settings(track, reference, profile, checkpoint)
    host = PluginHost(profile, track.sample_rate)
    refined = None
    if refine_s > 0:
        from host.refine import refine

        refined = refine(host, track.mono(), reference.mono_at(track.sample_rate), refine_s, start=values,
                         probabilities=probs)
        values = refined.values
    settings = settings_from_values(profile, values, host.parameter_indices, ckpt, probs)
    rendered = host.render(track.data, values)
    subtype = track.subtype if out_path.suffix.lower() == track.path.suffix.lower() else None
    write_audio_atomic(out_path, rendered, track.sample_rate, subtype=subtype)
    settings_path = Path(settings_out) if settings_out else None
    if settings_path:
        extra = {"refine": {"budget_s": refine_s, "evaluations": refined.evaluations,
                            "objective_start_db": refined.objective_start, "objective_db": refined.objective}
                 } if refined else {}
        write_json_atomic(settings_path, settings.to_json(host.identity, track=str(track_path),
                                                          reference=str(reference_path), output=str(out_path),
                                                          **extra))
    plot_path = Path(plot) if plot else None
    if plot_path:
        from host.plot import plot_eq_match

        plot_eq_match(plot_path, host.magnitude_response_db(values), track.sample_rate, before=track.mono(),
                      after=rendered.mean(axis=0), reference=reference.mono(), reference_rate=reference.sample_rate,
                      title=f"{profile.display_name}: matched to {Path(reference_path).name}")
    peak = float(np.max(np.abs(rendered)))
    return MatchResult(settings, out_path, settings_path, plot_path, 20 * np.log10(max(peak, 1e-12)))
