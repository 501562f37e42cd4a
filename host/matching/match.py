"""`eqbridge match`: predict a real plugin's settings from a reference, render the track through it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import soundfile as sf

from host.audio import write_audio_atomic
from host.errors import OptionError
from host.matching.output_level import OutputLevel, guard_output_level
from host.audio import read_audio
from host.matching.pipeline import ChannelsOutcome, MatchedSettings, MatchOptions, check_clips, match_channels
from host.matching.refine import plugin_refiner
from host.matching.stereo import render_channels
from host.paths import check_outputs, outputs_together
from host.plugins.render import PluginHost
from model.atomic import write_json_atomic
from model.curve.restraint import DEFAULT_RESTRAINT
from model.profiles import load_profile


@dataclass(frozen=True)
class MatchResult:
    """What ``match`` wrote."""

    settings: MatchedSettings        # the first channel's (the only one in link mode)
    out_path: Path
    settings_path: Path | None
    plot_path: Path | None
    level: OutputLevel
    channels: dict[str, MatchedSettings] | None = None  # channel name -> settings (every mode; link: "all")

    @property
    def peak_dbfs(self) -> float:
        return self.level.peak_dbfs


def match(track_path: Path | str, reference_path: Path | str | Sequence[Path | str], out_path: Path | str,
          plugin: str = "faust-peq", settings_out: Path | str | None = None, plot: Path | str | None = None,
          checkpoint: Path | str | None = None, refine_s: float = 0.0, no_clip: bool = False,
          model: str = "auto", restraint: float = DEFAULT_RESTRAINT, stereo: str = "link",
          link_percent: float | None = None, range_hz: tuple[float, float] | None = None,
          weights: Sequence[float] | None = None) -> MatchResult:
    """Match a track to one or several references through a real plugin; write audio, settings JSON and a PNG.

    The output keeps the track's sample rate, channels, length and subtype (FLAC/WAV by extension).
    ``refine_s`` > 0 refines the prediction for that many seconds through the plugin (host/matching/refine.py).
    ``model`` picks the predictor (host.matching.pipeline.MODELS); ``restraint`` how far the curve model
    shrinks bands it is unsure of toward flat (model.curve.restraint). ``no_clip`` lowers the output gain so the
    peak stays at -0.1 dBFS; without it a fixed-point output that goes over clips, and the result (and the
    settings JSON) says how many samples did. ``stereo`` (host.matching.stereo.STEREO_MODES), ``link_percent``,
    ``range_hz`` and ``weights`` (one per reference) as in host.matching.pipeline.match_channels.

    Raises:
        AudioInputError: unreadable, silent or too short clips.
        OptionError: an output that is an input or another output or cannot be written, a refinement budget out
            of range, --plot or --refine for a profile that is not an EQ, a mono clip with --stereo mid-side or
            left-right, weights that are not one per reference.
        ProfileError / PluginNotFoundError / CheckpointError: unknown profile, plugin not installed, no model.
    """
    out_path = Path(out_path)
    reference_paths = ([Path(reference_path)] if isinstance(reference_path, (str, Path))
                       else [Path(p) for p in reference_path])
    inputs = {"TRACK": track_path, **{("REFERENCE" if len(reference_paths) == 1 else f"REFERENCE {k + 1}"): p
                                      for k, p in enumerate(reference_paths)}}
    check_outputs(inputs, {"--out": out_path, "--settings-out": settings_out, "--plot": plot})
    profile = load_profile(plugin)
    if plot and not profile.is_eq:
        raise OptionError(f"--plot draws an EQ curve; profile {profile.name!r} is a {profile.effect} profile")
    options = MatchOptions(profile, Path(checkpoint) if checkpoint else None, model=model, refine_s=refine_s,
                           restraint=restraint, stereo=stereo, link_percent=link_percent,
                           range_hz=tuple(range_hz) if range_hz is not None else None,
                           weights=tuple(float(w) for w in weights) if weights is not None else None)
    track = read_audio(track_path)
    references = [read_audio(p) for p in reference_paths]
    check_clips(track, references, options)  # channel counts and weights: before the plugin loads
    host = PluginHost(profile, track.sample_rate)
    matched = match_channels(track, references, options, plugin_refiner(host))
    channels = {name: o.settings(host.parameter_indices) for name, o in matched.by_channel().items()}
    settings = next(iter(channels.values()))
    rendered = render_channels(host, track.data, stereo, matched.values)
    subtype = track.subtype if out_path.suffix.lower() == track.path.suffix.lower() else None
    written_subtype = subtype or sf.default_subtype(out_path.suffix.lstrip(".").upper() or "WAV")
    rendered, level = guard_output_level(rendered, written_subtype, no_clip)
    settings_path = Path(settings_out) if settings_out else None
    plot_path = Path(plot) if plot else None
    record = None
    if settings_path:
        record = _settings_record(matched, channels, host, options, track_path, reference_paths, out_path, level)
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

            curves = {name: host.magnitude_response_db(o.values) for name, o in matched.by_channel().items()}
            names = ", ".join(p.name for p in reference_paths)
            plot_eq_match(tmp[plot_path], curves if stereo != "link" else curves["all"], track.sample_rate,
                          before=track.mono(), after=rendered.mean(axis=0), reference=references[0].mono(),
                          reference_rate=references[0].sample_rate,
                          title=f"{profile.display_name}: matched to {names}"
                                + (f" ({stereo})" if stereo != "link" else ""))
    return MatchResult(settings, out_path, settings_path, plot_path, level, channels)


def _settings_record(matched: ChannelsOutcome, channels: dict[str, MatchedSettings], host: PluginHost,
                     options: MatchOptions, track_path: Path | str, reference_paths: list[Path], out_path: Path,
                     level: OutputLevel) -> dict:
    """The settings JSON: link mode keeps the one-setting layout (values, normalized at the top); mid-side and
    left-right name each channel's settings under ``stereo_channels``."""
    curve = options.resolved_model() == "curve"
    common = {"output": str(out_path), "output_level": level.to_json(), "model": options.resolved_model(),
              **({"restraint": options.restraint} if curve else {}), "stereo": options.stereo}
    if len(reference_paths) > 1 or options.weights is not None:
        w = options.weights or (1.0,) * len(reference_paths)
        common["references"] = [{"path": str(p), "weight": float(x)} for p, x in zip(reference_paths, w)]
    if options.range_hz is not None:
        common["range_hz"] = list(options.range_hz)
    reference = str(reference_paths[0]) if len(reference_paths) == 1 else [str(p) for p in reference_paths]
    if matched.mode == "link":
        refined = matched.outcomes[0].estimate.refined
        extra = {"refine": {"budget_s": options.refine_s, "evaluations": refined.evaluations,
                            "objective_start_db": refined.objective_start, "objective_db": refined.objective}
                 } if refined else {}
        return channels["all"].to_json(host.identity, track=str(track_path), reference=reference, **common, **extra)
    return {"plugin": options.profile.name, "plugin_identity": dict(vars(host.identity)), "track": str(track_path),
            "reference": reference, **common, "link_percent": options.link_percent or 0.0,
            "stereo_channels": {name: s.to_json() for name, s in channels.items()}}
