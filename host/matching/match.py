"""`eqbridge match`: predict a real plugin's settings from a reference, render the track through it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from host.audio import write_audio_atomic
from host.errors import OptionError
from host.matching.output_level import OutputLevel, guard_output_level
from host.matching.pipeline import MatchedSettings, MatchOptions, match_clips, read_pair
from host.matching.refine import plugin_refiner
from host.paths import check_outputs, outputs_together
from host.plugins.render import PluginHost
from model.atomic import write_json_atomic
from model.curve.restraint import DEFAULT_RESTRAINT
from model.profiles import load_profile


@dataclass(frozen=True)
class MatchResult:
    """What ``match`` wrote."""

    settings: MatchedSettings
    out_path: Path
    settings_path: Path | None
    plot_path: Path | None
    level: OutputLevel

    @property
    def peak_dbfs(self) -> float:
        return self.level.peak_dbfs


def match(track_path: Path | str, reference_path: Path | str, out_path: Path | str, plugin: str = "faust-peq",
          settings_out: Path | str | None = None, plot: Path | str | None = None,
          checkpoint: Path | str | None = None, refine_s: float = 0.0, no_clip: bool = False,
          model: str = "auto", restraint: float = DEFAULT_RESTRAINT) -> MatchResult:
    """Match a track to a reference through a real plugin; write audio, settings JSON and a curve PNG.

    The output keeps the track's sample rate, channels, length and subtype (FLAC/WAV by extension).
    ``refine_s`` > 0 refines the prediction for that many seconds through the plugin (host/matching/refine.py).
    ``model`` picks the predictor (host.matching.pipeline.MODELS); ``restraint`` how far the curve model
    shrinks bands it is unsure of toward flat (model.curve.restraint). ``no_clip`` lowers the output gain so the peak stays at -0.1 dBFS; without it a fixed-point output that
    goes over clips, and the result (and the settings JSON) says how many samples did.

    Raises:
        AudioInputError: unreadable, silent or too short clips.
        OptionError: an output that is an input or another output or cannot be written, a refinement budget out of range, --plot or --refine for a profile that is not an EQ.
        ProfileError / PluginNotFoundError / CheckpointError: unknown profile, plugin not installed, no model.
    """
    out_path = Path(out_path)
    check_outputs({"TRACK": track_path, "REFERENCE": reference_path},
                  {"--out": out_path, "--settings-out": settings_out, "--plot": plot})
    profile = load_profile(plugin)
    if plot and not profile.is_eq:
        raise OptionError(f"--plot draws an EQ curve; profile {profile.name!r} is a {profile.effect} profile")
    options = MatchOptions(profile, Path(checkpoint) if checkpoint else None, model=model, refine_s=refine_s,
                           restraint=restraint)
    track, reference = read_pair(track_path, reference_path)
    host = PluginHost(profile, track.sample_rate)
    outcome = match_clips(track, reference, options, plugin_refiner(host))
    settings = outcome.settings(host.parameter_indices)
    rendered = host.render(track.data, outcome.values)
    subtype = track.subtype if out_path.suffix.lower() == track.path.suffix.lower() else None
    written_subtype = subtype or sf.default_subtype(out_path.suffix.lstrip(".").upper() or "WAV")
    rendered, level = guard_output_level(rendered, written_subtype, no_clip)
    settings_path = Path(settings_out) if settings_out else None
    plot_path = Path(plot) if plot else None
    record = None
    if settings_path:
        refined = outcome.estimate.refined
        extra = {"refine": {"budget_s": refine_s, "evaluations": refined.evaluations,
                            "objective_start_db": refined.objective_start, "objective_db": refined.objective}
                 } if refined else {}
        record = settings.to_json(host.identity, track=str(track_path), reference=str(reference_path),
                                  output=str(out_path), output_level=level.to_json(), model=options.resolved_model(),
                                  **({"restraint": restraint} if options.resolved_model() == "curve" else {}), **extra)
    # All outputs or none: each is written to a temporary, then all are renamed into place together.
    finals = [p for p in (out_path, settings_path, plot_path) if p is not None]
    with outputs_together(finals) as temporaries:
        tmp = dict(zip(finals, temporaries))
        write_audio_atomic(tmp[out_path], rendered, track.sample_rate, subtype=subtype,
                           format=out_path.suffix.lstrip(".").upper() or "WAV")
        if settings_path:
            write_json_atomic(tmp[settings_path], record)
        if plot_path:
            from host.matching.plot import plot_eq_match  # matplotlib: imported only when a picture is asked for

            plot_eq_match(tmp[plot_path], host.magnitude_response_db(outcome.values), track.sample_rate,
                          before=track.mono(), after=rendered.mean(axis=0), reference=reference.mono(),
                          reference_rate=reference.sample_rate,
                          title=f"{profile.display_name}: matched to {Path(reference_path).name}")
    return MatchResult(settings, out_path, settings_path, plot_path, level)
