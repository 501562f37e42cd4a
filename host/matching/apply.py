"""`eqbridge apply`: match a folder of stems to a reference through a real EQ plugin.

Per stem, in this order: read, predict (or take the shared settings), scale the gains by ``amount``,
render through the plugin (one :class:`~host.plugins.render.PluginHost` per worker process and sample rate),
write the audio, the plugin's own preset, the curve PNG, and last ``<stem>.settings.json``. A stem
whose settings file is there, made by the same run options from the same input, with every file it
lists present, is finished: a rerun skips it, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from host.audio import AudioClip, read_audio, write_audio_atomic
from host.errors import AudioInputError, EqbridgeError, OptionError, ProfileError
from host.matching.output_level import guard_output_level
from host.matching.pipeline import (ChannelsOutcome, Estimate, GainChange, MatchOptions, check_references, finish,
                                    match_channels)
from host.matching.stereo import CHANNELS, check_stereo_clip, render_channels
from host.paths import check_output_folder
from host.processes import end_with_parent
from host.spectrum import log_mel_spectrum_db, shared_fmax_hz, tonal_rms_db
from model.atomic import atomic_path, remove_stale_temporaries, write_json_atomic
from model.curve.restraint import DEFAULT_RESTRAINT
from model.digest import file_sha256
from model.profiles import PluginProfile, load_profile

if TYPE_CHECKING:
    from host.plugins.render import PluginHost

log = logging.getLogger(__name__)

MODES = ("per-stem", "shared")
AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".w64", ".caf")
SILENCE_DBFS = -80.0       # a stem whose RMS is below this is reported as silent
MIN_STEM_S = 0.1           # shorter stems are reported as too short (the model may ask for more)
REPORT = "report.md"
MARKER = "eqbridge-apply.json"  # lists the files apply wrote in OUTDIR: they, and only they, may be replaced
MARKER_OWNER = "eqbridge apply"
SETTINGS_VERSION = 2  # 2: the tonal distance is named tonal_rms_db_before/after


@dataclass(frozen=True)
class ApplyConfig:
    """The options of one `eqbridge apply` run (what decides the output, besides the audio)."""

    plugin: str = "faust-peq"           # plugin profile name
    mode: str = "per-stem"              # "per-stem": settings per stem; "shared": one setting from the stems' sum
    amount_percent: float = 100.0       # scales every *_gain_db: 0 bypass, 100 as predicted, -100 inverted
    max_gain_db: float | None = None    # caps every band's boost and cut; None: the profile's range only
    no_clip: bool = False               # lower the output gain so the peak stays <= 0 dBFS
    checkpoint: str | None = None       # model checkpoint; None: presets/checkpoints/<plugin>.pt
    model: str = "auto"                 # host.matching.pipeline.MODELS
    refine_s: float = 0.0               # > 0: refine each prediction this long through the plugin (host/matching/refine.py)
    restraint: float = DEFAULT_RESTRAINT  # curve model: shrink unsure bands toward flat (model.curve.restraint)
    stereo: str = "link"                # host.matching.stereo.STEREO_MODES
    link_percent: float | None = None   # mid-side/left-right: 0 independent .. 100 the link curve
    range_hz: tuple[float, float] | None = None  # bands outside are left flat
    weights: tuple[float, ...] | None = None     # one per --reference; None: equal

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise OptionError(f"--mode must be one of {MODES}, got {self.mode!r}")
        self.match_options(load_profile(self.plugin))  # amount, cap and budget: checked once, by the pipeline

    def match_options(self, profile: PluginProfile) -> MatchOptions:
        return MatchOptions(profile, Path(self.checkpoint) if self.checkpoint else None, model=self.model, refine_s=self.refine_s,
                            amount_percent=self.amount_percent, max_gain_db=self.max_gain_db,
                            restraint=self.restraint, stereo=self.stereo, link_percent=self.link_percent,
                            range_hz=self.range_hz, weights=self.weights)

    @property
    def channels(self) -> tuple[str, ...]:
        return CHANNELS[self.stereo]

    def run_key(self) -> dict:
        """What a finished stem's settings file must match for a rerun to skip it."""
        return {"plugin": self.plugin, "mode": self.mode, "amount_percent": float(self.amount_percent),
                "max_gain_db": self.max_gain_db, "no_clip": self.no_clip, "refine_s": float(self.refine_s), "model": self.model,
                "restraint": float(self.restraint), "stereo": self.stereo, "link_percent": self.link_percent,
                "range_hz": list(self.range_hz) if self.range_hz else None,
                "weights": list(self.weights) if self.weights else None,
                "checkpoint": str(Path(self.checkpoint).resolve()) if self.checkpoint else None}


def list_stems(stems_dir: Path) -> list[Path]:
    """Audio files directly in ``stems_dir`` (not in subfolders), by name; hidden files are left out.

    Raises:
        AudioInputError: the folder is missing, holds no audio file, or two stems share a file stem.
    """
    if not stems_dir.is_dir():
        raise AudioInputError(f"--stems {stems_dir} is not a folder")
    stems = sorted(p for p in stems_dir.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in AUDIO_SUFFIXES)
    if not stems:
        raise AudioInputError(f"--stems {stems_dir} holds no audio file ({', '.join(AUDIO_SUFFIXES)})")
    seen: dict[str, Path] = {}
    for stem in stems:
        if stem.stem in seen:
            raise AudioInputError(f"stems {seen[stem.stem].name} and {stem.name} would share the output "
                                  f"{stem.stem}.settings.json; rename one")
        seen[stem.stem] = stem
    return stems


def check_out_dir(stems: Sequence[Path], stems_dir: Path, out_dir: Path, reference: Path | Sequence[Path],
                  profile: PluginProfile, channels: Sequence[str] = ("all",)) -> list[str]:
    """Refuse an output folder that would overwrite an input; returns the names of the files the run writes.

    Raises:
        OptionError: OUTDIR is (a link to) the stems folder or a file, an output file is (a link to) a stem or
        the reference, or OUTDIR cannot be written (host.paths.check_output_folder).
    """
    references = [reference] if isinstance(reference, Path) else list(reference)
    names = [REPORT, MARKER] + [p.name for stem in stems
                                for p in (*_outputs(out_dir, stem).values(),
                                          *_state_paths(out_dir, stem, profile, channels).values())]
    inputs = {"--stems": stems_dir, **{f"--reference {r}": r for r in references}, **{f"stem {s.name}": s for s in stems}}
    check_output_folder("--out", out_dir, inputs, files=names)
    return names


def _written_here(out_dir: Path) -> set[str]:
    """Names of the files in OUTDIR that an earlier apply wrote (or was about to write when it was killed).

    The marker file lists them; a stem's settings file (written by apply, it lists its own files) and
    apply's report claim theirs too, so an OUTDIR made before the marker existed still resumes.
    """
    ours: set[str] = set()
    try:
        marker = json.loads((out_dir / MARKER).read_text())
        if isinstance(marker, dict) and marker.get("written_by") == MARKER_OWNER:
            ours.update([MARKER, *(str(n) for n in marker.get("files", []))])
    except (OSError, ValueError):
        pass
    for settings in out_dir.glob("*.settings.json"):
        try:
            record = json.loads(settings.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and "settings_version" in record and isinstance(record.get("files"), dict):
            ours.add(settings.name)
            ours.update(str(f) for f in record["files"].values())
    try:
        with open(out_dir / REPORT, encoding="utf-8") as fh:
            if fh.readline().startswith("# eqbridge apply"):
                ours.add(REPORT)
    except (OSError, ValueError):
        pass
    return ours


def check_not_foreign(out_dir: Path, names: Sequence[str], overwrite: bool = False) -> None:
    """Refuse to replace a file in OUTDIR that apply did not write, unless ``overwrite``.

    Raises:
        OptionError: a file of that name exists and no earlier apply wrote it (the first one is named).
    """
    ours = _written_here(out_dir) if out_dir.is_dir() else set()
    foreign = [n for n in (*names, MARKER) if os.path.lexists(out_dir / n) and n not in ours]
    if foreign and not overwrite:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise OptionError(f"--out {out_dir}: {out_dir / foreign[0]}{more} exists and was not written by eqbridge "
                          f"apply; move it away, choose another --out, or pass --overwrite to replace it")


def record_outputs(out_dir: Path, names: Sequence[str]) -> None:
    """Add ``names`` to OUTDIR's marker file; called before any of them is written, so the files of a run
    killed halfway are still known as apply's own on the rerun."""
    ours = _written_here(out_dir) if out_dir.is_dir() else set()
    record = {"written_by": MARKER_OWNER, "files": sorted(ours | set(names))}
    try:
        unchanged = json.loads((out_dir / MARKER).read_text()) == record
    except (OSError, ValueError):
        unchanged = False
    if not unchanged:  # a rerun that writes nothing new leaves OUTDIR as it was
        write_json_atomic(out_dir / MARKER, record)


def _outputs(out_dir: Path, stem: Path) -> dict[str, Path]:
    return {"audio": out_dir / stem.name, "settings": out_dir / f"{stem.stem}.settings.json",
            "plot": out_dir / f"{stem.stem}.png"}


def _state_path(out_dir: Path, stem: Path, profile: PluginProfile, channel: str = "all") -> Path:
    """VST: an .fxb bank (what DawDreamer's save_state writes); Faust: the DSP with the values as defaults.
    A mid/side or left/right match writes one per channel, named ``<stem>.<channel>.fxb``."""
    base = stem.stem if channel == "all" else f"{stem.stem}.{channel}"
    return out_dir / (f"{base}.{profile.name}.dsp" if profile.backend == "faust" else f"{base}.fxb")


def _state_paths(out_dir: Path, stem: Path, profile: PluginProfile, channels: Sequence[str]) -> dict[str, Path]:
    return {c: _state_path(out_dir, stem, profile, c) for c in channels}


def _finished_record(stem: Path, out_dir: Path, run_key: dict) -> dict | None:
    """The stem's settings record if it was finished by a run with the same options and input; else None."""
    path = _outputs(out_dir, stem)["settings"]
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("redoing %s: its settings file %s is unreadable (%s)", stem.name, path, exc)
        return None
    if record.get("settings_version") != SETTINGS_VERSION or record.get("run") != run_key:
        log.info("redoing %s: it was made with other options", stem.name)
        return None
    if record.get("input_sha256") != file_sha256(stem):
        log.info("redoing %s: the stem changed since it was made", stem.name)
        return None
    missing = [f for f in record.get("files", {}).values() if not (out_dir / f).is_file()]
    if missing:
        log.info("redoing %s: %s missing", stem.name, ", ".join(missing))
        return None
    return record


def check_stem(clip: AudioClip) -> None:
    """Raises AudioInputError for a silent or too short stem (names the level or the length)."""
    if clip.duration_s < MIN_STEM_S:
        raise AudioInputError(f"{clip.path} is too short: {clip.duration_s:.3f} s, at least {MIN_STEM_S} s needed")
    rms = float(np.sqrt(np.mean(np.square(clip.data, dtype=np.float64))))
    rms_dbfs = 20.0 * math.log10(rms) if rms > 0 else -math.inf
    if rms_dbfs < SILENCE_DBFS:
        raise AudioInputError(f"{clip.path} is silent (RMS {rms_dbfs:.1f} dBFS, below {SILENCE_DBFS:.0f} dBFS)")


def faust_preset_source(profile: PluginProfile, normalized: dict[str, float]) -> str:
    """The profile's Faust DSP with each controlled slider's default set to its value: loading it gives the preset.

    Raises:
        ProfileError: a controlled parameter's slider is not found in the DSP source.
    """
    source = profile.dsp_source()
    for spec in profile.parameters:
        label = spec.plugin_name.rsplit("/", 1)[-1]
        pattern = re.compile(r'((?:h|v)slider\(\s*"' + re.escape(label) + r'"\s*,\s*)([-+0-9.eE]+)')
        source, count = pattern.subn(lambda m: f"{m.group(1)}{normalized[spec.name]!r}", source)
        if count != 1:
            raise ProfileError(f"profile {profile.name!r}: slider {label!r} found {count} times in the DSP source")
    header = (f"// eqbridge apply preset for profile {profile.name}: the slider defaults below are the applied\n"
              f"// settings (normalized 0..1), {', '.join(f'{k}={v:.6g}' for k, v in normalized.items())}\n")
    return header + source


def save_plugin_state(host: "PluginHost", path: Path, normalized: dict[str, float]) -> dict:
    """Write the plugin's own preset (atomically) and describe it for the settings file.

    VST profiles: DawDreamer's ``save_state`` (an .fxb bank chunk a VST2 host loads). Faust: the DSP source
    with the slider values as defaults (``{"format": "faust-dsp"}`` and the slider paths and values).
    """
    profile = host.profile
    if profile.backend == "faust":
        with atomic_path(path, suffix=".dsp") as tmp:
            tmp.write_text(faust_preset_source(profile, normalized))
        sliders = {p.plugin_name: normalized[p.name] for p in profile.parameters}
        return {"format": "faust-dsp", "file": path.name, "sliders": sliders}
    with atomic_path(path, suffix=".fxb") as tmp:
        host.save_state(tmp)
    return {"format": "vst2-fxb (DawDreamer save_state)", "file": path.name}


@dataclass(frozen=True)
class StemJob:
    """One stem's work, picklable for a spawn worker."""

    stem: Path
    out_dir: Path
    references: tuple[Path, ...]
    config: ApplyConfig
    shared_values: tuple[tuple[float, ...], ...] | None = None  # mode "shared": per channel, from the sum
    shared_checkpoint: str | None = None
    run_key: dict = field(default_factory=dict)  # stamped into the settings file; a rerun compares it


@dataclass(frozen=True)
class StemResult:
    name: str
    status: str                 # "done", "skipped" (finished earlier) or "failed"
    record: dict | None = None  # the settings file's content
    error: str | None = None
    duration_s: float = 0.0     # audio seconds rendered (0 when skipped or failed)


class StemApplier:
    """Does stems' work in one process: one PluginHost per sample rate, the reference read once."""

    def __init__(self, config: ApplyConfig) -> None:
        self.config = config
        self.profile = load_profile(config.plugin)
        self.options = config.match_options(self.profile)
        self._hosts: dict[int, "PluginHost"] = {}
        self._references: dict[str, AudioClip] = {}
        self._reference_spectra: dict[tuple[str, float], np.ndarray] = {}

    def host(self, sample_rate: int) -> "PluginHost":
        from host.plugins.render import PluginHost  # deferred: DawDreamer loads in the worker

        if sample_rate not in self._hosts:
            self._hosts[sample_rate] = PluginHost(self.profile, sample_rate)
        return self._hosts[sample_rate]

    def reference(self, path: Path) -> AudioClip:
        key = str(path)
        if key not in self._references:
            self._references[key] = read_audio(path)
        return self._references[key]

    def reference_spectrum_db(self, paths: Sequence[Path], fmax_hz: float) -> np.ndarray:
        """The references' tonal balance: the weighted mean of their mean-removed log-mel spectra."""
        key = (tuple(str(p) for p in paths), fmax_hz)
        if key not in self._reference_spectra:
            w = np.asarray(self.config.weights or [1.0] * len(paths), dtype=np.float64)
            spectra = [log_mel_spectrum_db(r.mono(), r.sample_rate, fmax_hz) for r in map(self.reference, paths)]
            self._reference_spectra[key] = sum(wi * x for wi, x in zip(w / w.sum(), spectra))
        return self._reference_spectra[key]

    def run(self, job: StemJob) -> StemResult:
        try:
            return self._run(job)
        except EqbridgeError as exc:
            log.warning("stem %s failed: %s", job.stem.name, exc)
            return StemResult(job.stem.name, "failed", error=str(exc))

    def _run(self, job: StemJob) -> StemResult:
        from host.matching.plot import plot_eq_match
        from host.matching.refine import plugin_refiner

        cfg, profile = self.config, self.profile
        clip = read_audio(job.stem)
        check_stem(clip)
        check_stereo_clip(clip, cfg.stereo, "stem")
        references = [self.reference(r) for r in job.references]
        host = self.host(clip.sample_rate)
        if job.shared_values is not None:
            outcomes = []
            for values in job.shared_values:
                shared = np.asarray(values, dtype=np.float64)
                outcomes.append(finish(Estimate(shared, shared, str(job.shared_checkpoint), None), self.options))
            matched = ChannelsOutcome(cfg.stereo, cfg.channels, tuple(outcomes), (None,) * len(outcomes))
        else:
            matched = match_channels(clip, references, self.options, plugin_refiner(host))
        by_channel = matched.by_channel()
        rendered = render_channels(host, clip.data, cfg.stereo, matched.values)   # (channels, samples)
        rendered, level = guard_output_level(rendered, clip.subtype, cfg.no_clip)
        outs = _outputs(job.out_dir, job.stem)
        write_audio_atomic(outs["audio"], rendered, clip.sample_rate, subtype=clip.subtype, format=clip.format)
        state_paths = _state_paths(job.out_dir, job.stem, profile, cfg.channels)
        channels = {}
        for name, outcome in by_channel.items():
            host.set_normalized(profile.to_norm(outcome.values))  # the plugin holds this channel's settings to save
            settings = outcome.settings(host.parameter_indices)
            channels[name] = settings.to_json(
                predicted_values=profile.values_dict(outcome.estimate.values),
                gain_changes=[vars(c) for c in outcome.gain_changes],
                plugin_state=save_plugin_state(host, state_paths[name], settings.normalized))
        after = rendered.mean(axis=0)
        ref_names = ", ".join(r.name for r in job.references)
        curves = {name: host.magnitude_response_db(o.values) for name, o in by_channel.items()}
        plot_eq_match(outs["plot"], curves if cfg.stereo != "link" else curves["all"], clip.sample_rate,
                      before=clip.mono(), after=after, reference=references[0].mono(),
                      reference_rate=references[0].sample_rate,
                      title=f"{profile.display_name}: {job.stem.name} matched to {ref_names} "
                            f"({cfg.amount_percent:g}%" + (f", {cfg.stereo})" if cfg.stereo != "link" else ")"))
        notes = [f"{name}: {n}" if cfg.stereo != "link" else n
                 for name, o in by_channel.items() for n in _gain_notes(o.gain_changes, cfg)]
        if level.note():
            notes.append(level.note())
        fmax_hz = min(shared_fmax_hz(clip.sample_rate, r.sample_rate) for r in references)
        ref_db = self.reference_spectrum_db(job.references, fmax_hz)
        metrics = {
            "tonal_rms_db_before": tonal_rms_db(log_mel_spectrum_db(clip.mono(), clip.sample_rate, fmax_hz), ref_db),
            "tonal_rms_db_after": tonal_rms_db(log_mel_spectrum_db(after, clip.sample_rate, fmax_hz), ref_db),
            "peak_dbfs": level.peak_dbfs, "peak_before_output_gain_dbfs": level.peak_before_output_gain_dbfs,
            "output_gain_db": level.output_gain_db, "clipped_samples": level.clipped_samples,
        }
        reference = str(job.references[0]) if len(job.references) == 1 else [str(r) for r in job.references]
        common = dict(settings_version=SETTINGS_VERSION, run=job.run_key, mode=cfg.mode, stereo=cfg.stereo,
                      amount_percent=cfg.amount_percent, max_gain_db=cfg.max_gain_db, no_clip=cfg.no_clip,
                      units={p.name: p.unit for p in profile.parameters}, stem=str(job.stem),
                      input_sha256=file_sha256(job.stem), reference=reference, sample_rate=clip.sample_rate,
                      channels=clip.channels, frames=clip.frames, subtype=clip.subtype, format=clip.format,
                      metrics=metrics, notes=notes,
                      files={"audio": outs["audio"].name, "plot": outs["plot"].name,
                             **{("plugin_state" if c == "all" else f"plugin_state_{c}"): p.name
                                for c, p in state_paths.items()}})
        if cfg.stereo == "link":
            record = {**channels["all"], "plugin_identity": dict(vars(host.identity)), **common}
        else:
            record = {"plugin": profile.name, "plugin_identity": dict(vars(host.identity)),
                      "checkpoint": matched.outcomes[0].estimate.checkpoint, **common,
                      "link_percent": cfg.link_percent or 0.0, "stereo_channels": channels}
        write_json_atomic(outs["settings"], record)  # last: its presence marks the stem finished
        return StemResult(job.stem.name, "done", record, duration_s=clip.duration_s)


def _gain_notes(changes: Sequence[GainChange], cfg: ApplyConfig) -> list[str]:
    """What the cap and the profile's ranges did to each band's gain (the output level's note is added apart)."""
    notes = []
    for c in changes:
        if c.capped_by_max_gain:
            notes.append(f"{c.name}: {c.requested_db:+.2f} dB capped at ±{cfg.max_gain_db:g} dB (--max-gain-db)")
        if c.clipped_to_range:
            notes.append(f"{c.name}: {c.requested_db:+.2f} dB clipped to the profile's range, applied "
                         f"{c.applied_db:+.2f} dB")
    return notes


_WORKER: StemApplier | None = None


def _worker_init(config: ApplyConfig, torch_threads: int) -> None:
    global _WORKER
    end_with_parent()
    _WORKER = StemApplier(config)
    # Shared mode predicts in the parent, and the curve model predicts without torch: only the classifier's
    # workers load torch, with one thread each.
    if config.mode == "per-stem" and _WORKER.options.resolved_model() == "classifier":
        import torch

        torch.set_num_threads(torch_threads)


def _worker_run(job: StemJob) -> StemResult:
    assert _WORKER is not None
    return _WORKER.run(job)


def _sum_of_stems(stems: Sequence[Path], stereo: str = "link") -> AudioClip:
    """The sum of the readable, non-silent stems at the first one's rate (what a mix bus hears): mono for
    ``link``, else two channels (a mono stem adds to both)."""
    import soxr

    clips = []
    for stem in stems:
        try:
            clip = read_audio(stem)
            check_stem(clip)
            if clip.channels > 2:
                check_stereo_clip(clip, stereo, f"stem {stem.name}")
        except (AudioInputError, OptionError) as exc:
            log.warning("left out of the shared sum: %s", exc)
            continue
        clips.append(clip)
    if not clips:
        raise AudioInputError("mode shared: no stem is readable and audible, nothing to sum")
    rate = clips[0].sample_rate
    width = 1 if stereo == "link" else 2
    parts = []
    for c in clips:
        data = c.data.mean(axis=0, keepdims=True) if width == 1 else np.broadcast_to(c.data, (2, c.frames))
        if c.sample_rate != rate:
            data = soxr.resample(np.ascontiguousarray(data.T), c.sample_rate, rate).T
        parts.append(np.asarray(data, dtype=np.float32))
    total = np.zeros((width, max(p.shape[1] for p in parts)), dtype=np.float32)
    for p in parts:
        total[:, :p.shape[1]] += p
    return AudioClip(total, rate, "FLOAT", "WAV", Path("sum-of-stems"))


@dataclass(frozen=True)
class ApplySummary:
    out_dir: Path
    report: Path
    results: tuple[StemResult, ...]
    seconds: float
    shared_values: dict[str, float] | None = None        # mode shared, --stereo link: the one setting
    counts: dict[str, int] = field(default_factory=dict)
    shared_channels: dict[str, dict[str, float]] | None = None  # mode shared, mid-side/left-right: per channel


def apply_stems(reference: Path | str | Sequence[Path | str], stems_dir: Path | str, out_dir: Path | str,
                config: ApplyConfig = ApplyConfig(), workers: int = 1, progress: bool = True,
                overwrite: bool = False) -> ApplySummary:
    """Match every stem in ``stems_dir`` to ``reference`` (one path, or several combined with
    ``config.weights``) through the plugin; write into ``out_dir``.

    Outputs per stem: the audio (same name, format, subtype, rate, channels, length), ``<stem>.settings.json``,
    the plugin's preset (one per channel with --stereo mid-side or left-right), ``<stem>.png``; and
    ``report.md`` over all stems. Bad stems (unreadable, silent, too short, mono in a two-channel mode) are
    reported and the rest finish; finished stems are skipped on a rerun. A file in OUTDIR that apply did not
    write is never replaced unless ``overwrite`` (OUTDIR/eqbridge-apply.json lists apply's own).

    Raises:
        AudioInputError: missing stems folder or reference.
        OptionError: workers outside 1..MAX_WORKERS (other options are checked by :class:`ApplyConfig`); an
            OUTDIR that would overwrite inputs, cannot be written, or holds a file apply did not write; a
            mono reference with --stereo mid-side or left-right; weights that are not one per reference.
        ProfileError / PluginNotFoundError: unknown profile, missing plugin or checkpoint.
    """
    if workers < 1:
        raise OptionError(f"--workers must be at least 1, got {workers}")
    references = ([Path(reference)] if isinstance(reference, (str, Path)) else [Path(r) for r in reference])
    stems_dir, out_dir = Path(stems_dir), Path(out_dir)
    stems = list_stems(stems_dir)
    profile = load_profile(config.plugin)
    if not profile.is_eq:
        raise OptionError(f"apply matches EQ (gains, --amount, --max-gain-db, EQ-curve pictures); profile "
                               f"{profile.name!r} is a {profile.effect} profile: use `eqbridge match` for it")
    names = check_out_dir(stems, stems_dir, out_dir, references, profile, config.channels)
    check_not_foreign(out_dir, names, overwrite)
    ref_clips = [read_audio(r) for r in references]
    for clip in ref_clips:
        check_stem(clip)
    options = config.match_options(profile)
    check_references(ref_clips, options)  # the references' channels and the weights, before any stem
    start = time.perf_counter()
    shared_values, shared_ckpt = None, None
    if config.mode == "shared":
        mix = _sum_of_stems(stems, config.stereo)
        refiner = None
        if config.refine_s > 0:
            from host.matching.refine import plugin_refiner
            from host.plugins.render import PluginHost

            refiner = plugin_refiner(PluginHost(profile, mix.sample_rate))
        matched = match_channels(mix, ref_clips, options, refiner)
        shared_values = tuple(tuple(float(v) for v in o.estimate.values) for o in matched.outcomes)
        shared_ckpt = matched.outcomes[0].estimate.checkpoint
        log.info("shared settings from the sum of %d stems: %s", len(stems),
                 {c: profile.values_dict(np.asarray(v)) for c, v in zip(matched.channels, shared_values)})
    hashes = [file_sha256(r) for r in references]
    run_key = config.run_key() | {"reference_sha256": hashes[0] if len(hashes) == 1 else hashes}
    if shared_values is not None:
        run_key["shared_values"] = (list(shared_values[0]) if len(shared_values) == 1
                                    else [list(v) for v in shared_values])
    results: dict[str, StemResult] = {}
    todo = []
    for stem in stems:
        record = _finished_record(stem, out_dir, run_key)
        if record is not None:
            results[stem.name] = StemResult(stem.name, "skipped", record)
        else:
            todo.append(StemJob(stem, out_dir, tuple(references), config, shared_values, shared_ckpt, run_key))
    if results:
        log.info("resuming: %d of %d stems already finished", len(results), len(stems))
    out_dir.mkdir(parents=True, exist_ok=True)
    record_outputs(out_dir, names)
    for stem in stems:  # a killed run may have left temporaries of its outputs
        states = _state_paths(out_dir, stem, profile, config.channels)
        for path in (*_outputs(out_dir, stem).values(), *states.values()):
            remove_stale_temporaries(path)
    with tqdm(total=len(todo), unit="stem", desc="apply", disable=not progress) as bar:
        for result in _run_jobs(todo, config, workers):
            results[result.name] = result
            bar.update(1)
    ordered = tuple(results[s.name] for s in stems)
    report = _write_report(out_dir, references, config, ordered, profile)
    counts = {k: sum(r.status == k for r in ordered) for k in ("done", "skipped", "failed")}
    link_shared = shared_values is not None and len(shared_values) == 1
    return ApplySummary(out_dir, report, ordered, time.perf_counter() - start,
                        profile.values_dict(np.asarray(shared_values[0])) if link_shared else None, counts,
                        {c: profile.values_dict(np.asarray(v)) for c, v in zip(config.channels, shared_values)}
                        if shared_values is not None and not link_shared else None)


def _run_jobs(todo: Sequence[StemJob], config: ApplyConfig, workers: int) -> Iterator[StemResult]:
    if not todo:
        return
    if workers <= 1 or len(todo) == 1:
        applier = StemApplier(config)
        for job in todo:
            yield applier.run(job)
        return
    # spawn: a forked DawDreamer engine is not safe to reuse; each worker builds its own hosts.
    with ProcessPoolExecutor(min(workers, len(todo)), mp_context=get_context("spawn"), initializer=_worker_init,
                             initargs=(config, 1)) as pool:
        for future in as_completed([pool.submit(_worker_run, job) for job in todo]):
            yield future.result()


def _write_report(out_dir: Path, references: Sequence[Path], config: ApplyConfig, results: Sequence[StemResult],
                  profile: PluginProfile) -> Path:
    from host.matching.apply_report import render_report, write_report

    refs = ", ".join(f"`{r}`" for r in references)
    weights = f" (weights {', '.join(f'{w:g}' for w in config.weights)})" if config.weights else ""
    stereo = (f"; stereo {config.stereo}" + (f", link {config.link_percent:g}%" if config.link_percent else "")
              if config.stereo != "link" else "")
    band = f"; range {config.range_hz[0]:g}-{config.range_hz[1]:g} Hz" if config.range_hz else ""
    header = [f"Reference{'s' if len(references) > 1 else ''} {refs}{weights}{stereo}{band}; plugin {profile.display_name} (`{profile.name}`); mode {config.mode}; "
              f"amount {config.amount_percent:g}%; max gain "
              f"{'none' if config.max_gain_db is None else f'{config.max_gain_db:g} dB'}; "
              f"--no-clip {'on' if config.no_clip else 'off'}.",
              f"{sum(r.status == 'done' for r in results)} rendered, {sum(r.status == 'skipped' for r in results)} "
              f"finished earlier, {sum(r.status == 'failed' for r in results)} failed."]
    rows = [(r.name, r.record, r.status, r.error) for r in results]
    return write_report(out_dir / REPORT, render_report("eqbridge apply", header, rows))
