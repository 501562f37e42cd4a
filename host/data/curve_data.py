"""`eqbridge curve-data`: the curve model's training data from a corpus, small and made once.

Per corpus file: its mel power frames once, then band statistics (model.curve.features) of random segments
of 1.5 to 10 s, of the dry audio and of the audio in one random acoustic scene (host.data.augment; the same
scene for the whole file, so both parts of a pair share it). Plus a bank of EQ curves: random settings of
every EQ profile through the model's view of a filter (host.plugins.curves). About 3 KB per segment: the
whole corpus fits in tens of MB, against the tens of GB rendered shards would need.

Splits are by whole source and by recording group: ``holdout`` sources go to test only (never trained on);
speech groups are split like ``render-dataset`` splits them (its --split and --seed, so the speech test
languages of the shipped speech datasets stay unseen); other music groups go to train or val.

With a :class:`RenderConfig` (``--rendered PLUGIN --renders R``) the same segments (the analytic arrays stay
bit-identical) are also measured in R renders of each train/val file variant through the real plugin, at
random settings of its profile drawn from their own stream of (seed, file index), so ``train-curve --pairs
rendered`` can train on real renders. A segment whose render is refused (too little sound left, or steady)
stays in the data and is marked unusable for that render: dropping it would change the analytic data.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from host.data.augment import Scene, apply_scene
from host.data.corpus import AudioFile, list_audio_files, load_audio
from host.data.dataset import assign_groups
from host.errors import AudioInputError, DatasetError
from host.plugins.curves import curve_bank, mel_curve_db, random_settings
from host.processes import end_with_parent
from model.profiles import PluginProfile, available_profiles, load_profile

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
SEGMENT_RANGE_S = (1.5, 10.0)   # log-uniform segment lengths: 2 s dataset rows up to whole short clips
SEGMENTS_PER_S = 1.0            # one segment per second of audio...
SEGMENTS_PER_FILE = (12, 48)    # ...within these bounds. A 24 s speech clip gave 6 at one per 4 s, so the 37
                                # training speech files made only 444 segments and speech pairs repeated
CURVES_PER_PROFILE = 12000
MAX_HOLDOUT = 16
MAX_WORKERS = 64
MAX_RENDERS = 8
RENDER_STREAM = 1  # the render settings' random stream: [seed, file index, RENDER_STREAM], apart from the segments'


@dataclass(frozen=True)
class CurveDataConfig:
    holdout: tuple[str, ...] = ("wesnoth-music", "musescore-midi")
    speech_split: tuple[float, float, float] = (50.0, 10.0, 40.0)  # render-dataset's default
    music_val_share: float = 0.1
    seed: int = 0
    scene_variants: int = 1       # extra copies of each file in a random scene
    curves_per_profile: int = CURVES_PER_PROFILE


def _splits(files: list[AudioFile], config: CurveDataConfig) -> dict[str, str]:
    """group -> split."""
    out: dict[str, str] = {}
    speech = [f.group for f in files if f.kind == "speech" and f.source not in config.holdout]
    out.update(assign_groups(speech, config.speech_split, config.seed))
    music = [f.group for f in files if f.kind != "speech" and f.source not in config.holdout]
    share = config.music_val_share
    out.update(assign_groups(music, (1.0 - share, share, 0.0), config.seed))
    out.update({f.group: "test" for f in files if f.source in config.holdout})
    return out


def _segments(rng: np.random.Generator, duration_s: float) -> np.ndarray:
    """(n, 2) random (start_s, length_s) inside a file of ``duration_s``."""
    lo, hi = SEGMENT_RANGE_S
    hi = min(hi, duration_s / 2.0)
    if hi < lo:
        return np.zeros((0, 2))
    n = int(np.clip(round(duration_s * SEGMENTS_PER_S), *SEGMENTS_PER_FILE))
    lengths = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    starts = rng.uniform(0.0, 1.0, n) * (duration_s - lengths)
    return np.stack([starts, lengths], axis=1)


@dataclass(frozen=True)
class RenderConfig:
    """``--rendered PLUGIN --renders R``: R renders of each train/val file variant through the real plugin."""

    plugin: str
    renders: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.renders <= MAX_RENDERS:
            raise DatasetError(f"--renders must lie in [1, {MAX_RENDERS}], got {self.renders}")


@dataclass(frozen=True)
class _Rendered:
    stats: np.ndarray       # (n, R, S, M), NaN where not usable
    curves: np.ndarray      # (n, R, M), NaN where not rendered
    usable: np.ndarray      # (n, R) bool


@dataclass(frozen=True)
class _FileResult:
    stats: np.ndarray       # (n, S, M) per variant, concatenated
    segments: np.ndarray    # (n, 2)
    counts: tuple[int, ...]  # segments per variant (dry, scene0, ...)
    rendered: _Rendered | None = None


_FRONT = None
_HOSTS: dict[str, object] = {}  # one PluginHost (one DawDreamer engine) per profile and process


def _init_worker() -> None:
    end_with_parent()
    torch.set_num_threads(1)  # one process per core


def _plugin_host(name: str):
    from host.plugins.render import PluginHost  # DawDreamer loads only for --rendered

    if name not in _HOSTS:
        _HOSTS[name] = PluginHost(load_profile(name), SAMPLE_RATE)
    return _HOSTS[name]


def _frames(start_s: float, length_s: float, hop_s: float) -> slice:
    first = int(start_s / hop_s)
    return slice(first, first + int(length_s / hop_s))


def segment_stats(front, power: torch.Tensor, segments: np.ndarray, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(stats (n, S, M) float32 with NaN rows where refused, kept (n,) bool) of ``segments`` (n, 2) of one
    recording's mel ``power``: the statistics a quiet stretch or steady noise refuses are not a pair the model
    should learn from."""
    out = np.full((len(segments), front.stats.n_stats, front.features.n_mels), np.nan, dtype=np.float32)
    kept = np.zeros(len(segments), dtype=bool)
    for i, (start_s, length_s) in enumerate(segments):
        try:
            out[i] = front.stats_of(power[:, _frames(start_s, length_s, hop_s)]).numpy()
        except AudioInputError:
            continue
        kept[i] = True
    return out, kept


def rendered_segment_stats(front, host, profile: PluginProfile, audio: np.ndarray, segments: np.ndarray,
                           settings: np.ndarray) -> _Rendered:
    """The statistics of ``segments`` (n, 2) in renders of ``audio`` through ``host`` at each of ``settings``
    (R, P) physical values: the whole recording is rendered (the filters run in as they would), then measured
    at the same frames as the dry statistics."""
    hop_s = front.features.hop_ms / 1000.0
    n, r = len(segments), len(settings)
    stats = np.empty((n, r, front.stats.n_stats, front.features.n_mels), dtype=np.float32)
    usable = np.zeros((n, r), dtype=bool)
    for k, values in enumerate(settings):
        y = host.render(np.ascontiguousarray(audio, dtype=np.float32), values)
        stats[:, k], usable[:, k] = segment_stats(front, front.mel_power(torch.from_numpy(y)), segments, hop_s)
    curves = np.repeat(mel_curve_db(profile, settings).astype(np.float32)[None], n, axis=0)
    return _Rendered(stats, curves, usable)


def _unrendered(n: int, r: int, front) -> _Rendered:
    return _Rendered(np.full((n, r, front.stats.n_stats, front.features.n_mels), np.nan, dtype=np.float32),
                     np.full((n, r, front.features.n_mels), np.nan, dtype=np.float32), np.zeros((n, r), dtype=bool))


def _file_stats(index: int, path: str, config: CurveDataConfig, render: RenderConfig | None = None,
                render_this: bool = False) -> _FileResult:
    """Statistics of one file's random segments, dry and in ``scene_variants`` scenes (and, with ``render``
    and ``render_this``, in renders of each variant); a function of (seed, file index) only, so any number of
    workers gives the same data."""
    global _FRONT
    from model import ClipStats  # torch loads only for this command

    if _FRONT is None:
        _FRONT = ClipStats()
    front = _FRONT
    rng = np.random.default_rng([config.seed, index])
    render_rng = np.random.default_rng([config.seed, index, RENDER_STREAM])  # never draws from rng
    audio = load_audio(path, SAMPLE_RATE)
    variants = [audio] + [apply_scene([audio], Scene.random(rng), SAMPLE_RATE)[0] for _ in range(config.scene_variants)]
    hop_s = front.features.hop_ms / 1000.0
    stats, segments, counts, rendered = [], [], [], []
    profile = load_profile(render.plugin) if render is not None else None
    for x in variants:
        power = front.mel_power(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        drawn = _segments(rng, len(x) / SAMPLE_RATE)
        variant_stats, kept = segment_stats(front, power, drawn, hop_s)
        stats.extend(variant_stats[kept])
        segments.extend(map(tuple, drawn[kept]))
        counts.append(int(kept.sum()))
        if render is not None:
            settings = random_settings(profile, render_rng, render.renders)  # drawn for every file: skipping one
            if render_this and kept.any():                                  # leaves the others' settings alone
                rendered.append(rendered_segment_stats(front, _plugin_host(render.plugin), profile, x,
                                                       drawn[kept], settings))
            else:
                rendered.append(_unrendered(int(kept.sum()), render.renders, front))
    n_bands = front.features.n_mels
    joined = None
    if render is not None:
        joined = _Rendered(*(np.concatenate([getattr(r, name) for r in rendered])
                             for name in ("stats", "curves", "usable")))
    return _FileResult(np.asarray(stats, dtype=np.float32).reshape(-1, front.stats.n_stats, n_bands),
                       np.asarray(segments, dtype=np.float64).reshape(-1, 2), tuple(counts), joined)


def _all_file_stats(files: list[AudioFile], config: CurveDataConfig, workers: int, progress: bool,
                    render: RenderConfig | None = None, rendered_files: frozenset[int] = frozenset()
                    ) -> list[_FileResult]:
    bar = tqdm(total=len(files), desc="curve-data" + (f" + {render.plugin} renders" if render else ""),
               unit="file", disable=not progress)
    results: list[_FileResult | None] = [None] * len(files)
    if workers <= 1:
        for i, f in enumerate(files):
            results[i] = _file_stats(i, str(f.path), config, render, i in rendered_files)
            bar.update(1)
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
            futures = {pool.submit(_file_stats, i, str(f.path), config, render, i in rendered_files): i
                       for i, f in enumerate(files)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update(1)
    bar.close()
    return [r for r in results if r is not None]


def _check_render(render: RenderConfig) -> dict:
    """The plugin's identity for the JSON, after loading it once here: a missing plugin or a profile that is not
    an EQ stops the command before any work. Raises DatasetError, ProfileError or PluginNotFoundError."""
    profile = load_profile(render.plugin)
    if not profile.is_eq:
        raise DatasetError(f"--rendered {render.plugin}: a {profile.effect} profile; the curve model learns EQ "
                           f"curves, give one of {', '.join(available_profiles())}")
    return asdict(_plugin_host(render.plugin).identity)


def _collect_rendered(results: list[_FileResult], n_stats: int, n_bands: int, renders: int, plugin: str):
    """One (N, R, ...) array set from the files' results, dropping each file's copy as it goes (one copy of the
    rendered statistics in memory, not two)."""
    from model import RenderedStats  # torch loads only for this command

    n = sum(len(r.stats) for r in results)
    out = RenderedStats(plugin, np.empty((n, renders, n_stats, n_bands), dtype=np.float32),
                        np.empty((n, renders, n_bands), dtype=np.float32), np.empty((n, renders), dtype=bool))
    first = 0
    for i, r in enumerate(results):
        end = first + len(r.stats)
        out.stats[first:end], out.curves[first:end], out.usable[first:end] = (
            r.rendered.stats, r.rendered.curves, r.rendered.usable)
        results[i] = _FileResult(r.stats, r.segments, r.counts)
        first = end
    return out


def build_curve_data(corpus: str | Path, out_dir: str | Path, config: CurveDataConfig = CurveDataConfig(),
                     progress: bool = True, workers: int = 1, render: RenderConfig | None = None) -> Path:
    """Write the curve data of ``corpus`` to ``out_dir``; returns its JSON. With ``render``, also the
    statistics of the train/val file variants rendered through ``render.plugin`` (the test split, never trained
    on, is not rendered); the analytic arrays are the same with or without it.

    Raises:
        DatasetError: a holdout source that the corpus lacks, no training file, a bad worker count, or a
        ``render`` plugin that is not an EQ. PluginNotFoundError: the ``render`` plugin is not installed.
    """
    from model import ClipStats, FileSegments, write_curve_data  # torch loads only for this command

    if not 1 <= workers <= MAX_WORKERS:
        raise DatasetError(f"--workers must lie in [1, {MAX_WORKERS}], got {workers}")
    identity = _check_render(render) if render is not None else None
    files = list_audio_files(corpus)
    sources = sorted({f.source for f in files})
    unknown = sorted(set(config.holdout) - set(sources))
    if unknown or len(config.holdout) > MAX_HOLDOUT:
        raise DatasetError(f"--holdout {','.join(unknown) or len(config.holdout)}: not a source of {corpus} "
                           f"(at most {MAX_HOLDOUT}; its sources: {', '.join(sources)})")
    split_of = _splits(files, config)
    if not any(split_of[f.group] == "train" for f in files):
        raise DatasetError(f"{corpus}: no file left to train on after holding out {', '.join(config.holdout)}")
    rendered_files = frozenset(i for i, f in enumerate(files) if split_of[f.group] != "test")
    results = _all_file_stats(files, config, workers, progress, render, rendered_files)
    entries, first = [], 0
    for f, result in zip(files, results):
        for count in result.counts:  # each variant is its own file entry: pairs never mix scenes
            if count >= 2:
                entries.append(FileSegments(path=str(f.path), source=f.source, kind=f.kind, group=f.group,
                                            split=split_of[f.group], first=first, count=count))
            first += count
    front = ClipStats()
    profiles = [load_profile(n) for n in available_profiles()]
    curves, owner = curve_bank(profiles, config.curves_per_profile, config.seed)
    stats = np.concatenate([r.stats for r in results])
    digest = hashlib.sha256(stats.tobytes()).hexdigest()[:16]
    extra = {"corpus": str(Path(corpus).resolve()), "holdout_sources": list(config.holdout),
             "train_sources": sorted({e.source for e in entries if e.split == "train"}),
             "curve_profiles": [p.name for p in profiles], "curve_owner_counts": np.bincount(owner).tolist(),
             "config": {**config.__dict__, "holdout": list(config.holdout), "speech_split": list(config.speech_split)},
             "digest": digest}
    rendered = None
    if render is not None:
        rendered = _collect_rendered(results, front.stats.n_stats, front.features.n_mels, render.renders,
                                     render.plugin)
        extra["rendered"] = {"plugin": render.plugin, "renders": render.renders, "plugin_identity": identity,
                             "settings_stream": [config.seed, "file index", RENDER_STREAM],
                             "rendered_splits": ["train", "val"],
                             "usable": int(rendered.usable.sum()), "refused": int(
                                 (~rendered.usable[np.isfinite(rendered.curves[:, :, 0])]).sum()),
                             "digest": hashlib.sha256(rendered.stats.data).hexdigest()[:16]}
    return write_curve_data(out_dir, stats, np.concatenate([r.segments for r in results]), curves, entries,
                            front.features, front.stats, extra, rendered)
