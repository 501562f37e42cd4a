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
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from host.data.augment import Scene, apply_scene
from host.data.corpus import AudioFile, list_audio_files, load_audio
from host.data.dataset import assign_groups
from host.errors import AudioInputError, DatasetError
from host.plugins.curves import curve_bank
from model.profiles import available_profiles, load_profile

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
SEGMENT_RANGE_S = (1.5, 10.0)   # log-uniform segment lengths: 2 s dataset rows up to whole short clips
SEGMENTS_PER_S = 0.25           # one segment per 4 s of audio...
SEGMENTS_PER_FILE = (6, 48)     # ...within these bounds
CURVES_PER_PROFILE = 12000
MAX_HOLDOUT = 16


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


def build_curve_data(corpus: str | Path, out_dir: str | Path, config: CurveDataConfig = CurveDataConfig(),
                     progress: bool = True) -> Path:
    """Write the curve data of ``corpus`` to ``out_dir``; returns its JSON.

    Raises:
        DatasetError: a holdout source that the corpus lacks, or no training file.
    """
    from model import ClipStats, FileSegments, write_curve_data  # torch loads only for this command

    files = list_audio_files(corpus)
    sources = sorted({f.source for f in files})
    unknown = sorted(set(config.holdout) - set(sources))
    if unknown or len(config.holdout) > MAX_HOLDOUT:
        raise DatasetError(f"--holdout {','.join(unknown) or len(config.holdout)}: not a source of {corpus} "
                           f"(at most {MAX_HOLDOUT}; its sources: {', '.join(sources)})")
    split_of = _splits(files, config)
    if not any(split_of[f.group] == "train" for f in files):
        raise DatasetError(f"{corpus}: no file left to train on after holding out {', '.join(config.holdout)}")
    front = ClipStats()
    rng = np.random.default_rng(config.seed)
    all_stats, all_segments, entries = [], [], []
    for f in tqdm(files, desc="curve-data", unit="file", disable=not progress):
        audio = load_audio(f.path, SAMPLE_RATE)
        variants = [("dry", audio)]
        for v in range(config.scene_variants):
            variants.append((f"scene{v}", apply_scene([audio], Scene.random(rng), SAMPLE_RATE)[0]))
        for tag, x in variants:
            power = front.mel_power(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
            hop_s = front.features.hop_ms / 1000.0
            rows, kept = [], []
            for start_s, length_s in _segments(rng, len(x) / SAMPLE_RATE):
                first = int(start_s / hop_s)
                frames = power[:, first:first + int(length_s / hop_s)]
                try:
                    rows.append(front.stats_of(frames).numpy())
                except AudioInputError:  # a quiet stretch or steady noise: not a pair the model should learn from
                    continue
                kept.append((start_s, length_s))
            if len(rows) < 2:
                continue
            entries.append(FileSegments(path=str(f.path), source=f.source, kind=f.kind, group=f.group,
                                        split=split_of[f.group], first=sum(len(s) for s in all_stats),
                                        count=len(rows)))
            all_stats.append(np.stack(rows))
            all_segments.append(np.asarray(kept))
            log.debug("%s (%s): %d segments", f.path, tag, len(rows))
    profiles = [load_profile(n) for n in available_profiles()]
    curves, owner = curve_bank(profiles, config.curves_per_profile, config.seed)
    stats = np.concatenate(all_stats)
    digest = hashlib.sha256(stats.tobytes()).hexdigest()[:16]
    extra = {"corpus": str(Path(corpus).resolve()), "holdout_sources": list(config.holdout),
             "train_sources": sorted({e.source for e in entries if e.split == "train"}),
             "curve_profiles": [p.name for p in profiles], "curve_owner_counts": np.bincount(owner).tolist(),
             "config": {**config.__dict__, "holdout": list(config.holdout), "speech_split": list(config.speech_split)},
             "digest": digest}
    return write_curve_data(out_dir, stats, np.concatenate(all_segments), curves, entries, front.features,
                            front.stats, extra)

