"""`eqbridge curve-data`: the curve model's training data from a corpus, small and made once.

Per corpus file: its mel power frames once, then band statistics (model.curve.features) of random segments
of 1.5 to 10 s, of the dry audio and of the audio in one random acoustic scene (host.data.augment; the same
scene for the whole file, so both parts of a pair share it). Plus a bank of EQ curves: random settings of
every EQ profile through the model's view of a filter (host.plugins.curves). About 3 KB per segment: the
whole corpus fits in tens of MB, against the tens of GB rendered shards would need.

Splits are by whole source and by recording group: ``holdout`` sources go to test only (never trained on);
speech groups are split like ``render-dataset`` splits them (its --split and --seed, so the speech test
languages of the shipped speech datasets stay unseen); other music groups go to train or val.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from host.data.augment import Scene, apply_scene
from host.data.corpus import AudioFile, list_audio_files, load_audio
from host.data.dataset import assign_groups
from host.errors import AudioInputError, DatasetError
from host.plugins.curves import curve_bank
from host.processes import end_with_parent
from model.profiles import available_profiles, load_profile

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
SEGMENT_RANGE_S = (1.5, 10.0)   # log-uniform segment lengths: 2 s dataset rows up to whole short clips
SEGMENTS_PER_S = 1.0            # one segment per second of audio...
SEGMENTS_PER_FILE = (12, 48)    # ...within these bounds. A 24 s speech clip gave 6 at one per 4 s, so the 37
                                # training speech files made only 444 segments and speech pairs repeated
CURVES_PER_PROFILE = 12000
MAX_HOLDOUT = 16
MAX_WORKERS = 64


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
class _FileResult:
    stats: np.ndarray       # (n, S, M) per variant, concatenated
    segments: np.ndarray    # (n, 2)
    counts: tuple[int, ...]  # segments per variant (dry, scene0, ...)


_FRONT = None


def _init_worker() -> None:
    end_with_parent()
    torch.set_num_threads(1)  # one process per core


def _file_stats(index: int, path: str, config: CurveDataConfig) -> _FileResult:
    """Statistics of one file's random segments, dry and in ``scene_variants`` scenes; a function of
    (seed, file index) only, so any number of workers gives the same data."""
    global _FRONT
    from model import ClipStats  # torch loads only for this command

    if _FRONT is None:
        _FRONT = ClipStats()
    front = _FRONT
    rng = np.random.default_rng([config.seed, index])
    audio = load_audio(path, SAMPLE_RATE)
    variants = [audio] + [apply_scene([audio], Scene.random(rng), SAMPLE_RATE)[0] for _ in range(config.scene_variants)]
    hop_s = front.features.hop_ms / 1000.0
    stats, segments, counts = [], [], []
    for x in variants:
        power = front.mel_power(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        kept = 0
        for start_s, length_s in _segments(rng, len(x) / SAMPLE_RATE):
            first = int(start_s / hop_s)
            try:
                stats.append(front.stats_of(power[:, first:first + int(length_s / hop_s)]).numpy())
            except AudioInputError:  # a quiet stretch or steady noise: not a pair the model should learn from
                continue
            segments.append((start_s, length_s))
            kept += 1
        counts.append(kept)
    n_bands = front.features.n_mels
    return _FileResult(np.asarray(stats, dtype=np.float32).reshape(-1, front.stats.n_stats, n_bands),
                       np.asarray(segments, dtype=np.float64).reshape(-1, 2), tuple(counts))


def _all_file_stats(files: list[AudioFile], config: CurveDataConfig, workers: int,
                    progress: bool) -> list[_FileResult]:
    bar = tqdm(total=len(files), desc="curve-data", unit="file", disable=not progress)
    results: list[_FileResult | None] = [None] * len(files)
    if workers <= 1:
        for i, f in enumerate(files):
            results[i] = _file_stats(i, str(f.path), config)
            bar.update(1)
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
            futures = {pool.submit(_file_stats, i, str(f.path), config): i for i, f in enumerate(files)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update(1)
    bar.close()
    return [r for r in results if r is not None]


def build_curve_data(corpus: str | Path, out_dir: str | Path, config: CurveDataConfig = CurveDataConfig(),
                     progress: bool = True, workers: int = 1) -> Path:
    """Write the curve data of ``corpus`` to ``out_dir``; returns its JSON.

    Raises:
        DatasetError: a holdout source that the corpus lacks, no training file, or a bad worker count.
    """
    from model import ClipStats, FileSegments, write_curve_data  # torch loads only for this command

    if not 1 <= workers <= MAX_WORKERS:
        raise DatasetError(f"--workers must lie in [1, {MAX_WORKERS}], got {workers}")
    files = list_audio_files(corpus)
    sources = sorted({f.source for f in files})
    unknown = sorted(set(config.holdout) - set(sources))
    if unknown or len(config.holdout) > MAX_HOLDOUT:
        raise DatasetError(f"--holdout {','.join(unknown) or len(config.holdout)}: not a source of {corpus} "
                           f"(at most {MAX_HOLDOUT}; its sources: {', '.join(sources)})")
    split_of = _splits(files, config)
    if not any(split_of[f.group] == "train" for f in files):
        raise DatasetError(f"{corpus}: no file left to train on after holding out {', '.join(config.holdout)}")
    results = _all_file_stats(files, config, workers, progress)
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
    return write_curve_data(out_dir, stats, np.concatenate([r.segments for r in results]), curves, entries,
                            front.features, front.stats, extra)
