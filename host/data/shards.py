"""One dataset shard: what determines it (:class:`DatasetConfig`, :class:`ShardPlan`), how it is rendered
through the plugin (:class:`ShardRenderer`), and its deterministic, atomic .npz file.

A shard depends only on (config, plan), so every executor (local processes, Ray) writes the same bytes.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from host.audio import read_window
from host.data.augment import Scene, apply_scene
from host.errors import DatasetError
from model.atomic import atomic_open
from model.profiles import N_BINS, load_profile

if TYPE_CHECKING:
    from host.plugins.render import PluginHost


@dataclass(frozen=True)
class DatasetConfig:
    """Everything that determines a dataset's content (two equal configs give identical shards)."""

    profile: str
    iterations: int
    segments: int                       # N segments per part and per shard
    segment_s: float = 2.0              # the shipped datasets' and checkpoints' segment length
    sample_rate: int = 44100
    seed: int = 0
    split: tuple[float, float, float] = (50.0, 10.0, 40.0)
    reference_from: str = "same-recording"  # or "other-recording": Y from another file of the same kind
    augment: bool = True
    kinds: tuple[str, ...] = ()         # keep only recordings of these kinds ("speech", "music"); () keeps all
    holdout_sources: tuple[str, ...] = ()  # corpus sources whose recordings all go to test, none elsewhere
    sources: tuple[str, ...] = ()       # keep only recordings of these corpus sources; () keeps all

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise DatasetError(f"--iterations must be at least 1, got {self.iterations}")
        if self.segments < 1:
            raise DatasetError(f"--segments must be at least 1, got {self.segments}")
        if not 0.1 <= self.segment_s <= 60.0:
            raise DatasetError(f"--segment-seconds must lie in [0.1, 60], got {self.segment_s}")
        if len(self.split) != 3 or min(self.split) < 0 or sum(self.split) <= 0:
            raise DatasetError(f"--split takes three non-negative shares train/val/test, got {self.split}")
        if not 8000 <= self.sample_rate <= 192000:
            raise DatasetError(f"--sample-rate must lie in 8000..192000 Hz, got {self.sample_rate}")
        if self.holdout_sources and self.split[2] <= 0:
            raise DatasetError(f"--holdout puts {', '.join(self.holdout_sources)} in the test split, but "
                               f"--split-shares {'/'.join(f'{x:g}' for x in self.split)} gives test no share; "
                               "give it one, e.g. 50/10/40")
        if self.reference_from not in ("same-recording", "other-recording"):
            raise DatasetError(f"--reference-from must be 'same-recording' or 'other-recording', "
                               f"got {self.reference_from!r}")

    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_s * self.sample_rate))


@dataclass(frozen=True)
class ShardPlan:
    index: int
    split: str
    files: tuple[str, ...]   # candidate recordings for this shard (its split's files)
    kinds: tuple[str, ...]
    durations_s: tuple[float, ...]

    @property
    def path(self) -> str:
        return f"{self.split}/shard-{self.index:05d}.npz"


def _segment_starts(part_len: int, seg_len: int, n: int) -> np.ndarray:
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    return np.rint(np.linspace(0, part_len - seg_len, n)).astype(np.int64)


def _cut(part: np.ndarray, seg_len: int, n: int) -> np.ndarray:
    return np.stack([part[s:s + seg_len] for s in _segment_starts(len(part), seg_len, n)])


def _two_parts(rng: np.random.Generator, total: int, seg_len: int, n: int) -> tuple[int, int, int]:
    """(start of X, start of Y, part length) in samples: two non-overlapping parts of a recording of
    ``total`` samples, each long enough for n segments (at 50% overlap when the recording allows)."""
    nominal = seg_len * (n + 1) // 2
    part_len = min(nominal, total // 2)
    first = int(rng.integers(0, total - 2 * part_len + 1))
    second = int(rng.integers(first + part_len, total - part_len + 1))
    return (first, second, part_len) if rng.random() < 0.5 else (second, first, part_len)


class ShardRenderer:
    """Renders shards in one process with one plugin host (build one per worker)."""

    def __init__(self, config: DatasetConfig, host: "PluginHost | None" = None) -> None:
        from host.plugins.render import PluginHost  # deferred: DawDreamer loads in the worker, not the parent

        self.config = config
        self.profile = load_profile(config.profile)
        self.host = host if host is not None else PluginHost(self.profile, config.sample_rate)

    def _parts(self, rng: np.random.Generator, path: str, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Two different parts of one recording, read as windows (long mixes are never decoded whole)."""
        sr, seg_len, n = self.config.sample_rate, self.config.segment_samples, self.config.segments
        total = int(duration_s * sr)
        first, second, part_len = _two_parts(rng, total, seg_len, n)
        return (read_window(Path(path), first, part_len, sr), read_window(Path(path), second, part_len, sr))

    def render_shard(self, plan: ShardPlan) -> dict[str, np.ndarray]:
        """All arrays of one shard, a pure function of (config, plan)."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, plan.index])
        seg_len, n = cfg.segment_samples, cfg.segments
        pick = int(rng.integers(len(plan.files)))
        x_part, y_part = self._parts(rng, plan.files[pick], plan.durations_s[pick])
        if cfg.reference_from == "other-recording":
            others = [i for i, k in enumerate(plan.kinds) if k == plan.kinds[pick] and i != pick]
            if others:
                other = others[int(rng.integers(len(others)))]
                _, y_part = self._parts(rng, plan.files[other], plan.durations_s[other])
                y_part = y_part[: len(x_part)] if len(y_part) >= len(x_part) else np.pad(
                    y_part, (0, len(x_part) - len(y_part)))
        if cfg.augment:
            x_part, y_part = apply_scene([x_part, y_part], Scene.random(rng), cfg.sample_rate)
        xs, ys = _cut(x_part, seg_len, n), _cut(y_part, seg_len, n)
        xs, ys = xs[rng.permutation(n)], ys[rng.permutation(n)]
        bins = np.stack([self.profile.sample_bins(rng, N_BINS) for _ in range(n)])  # (n, P)
        params = self.profile.from_bins(bins)                                      # (n, P) physical
        params_norm = self.profile.to_norm(params)
        ref, y = np.empty_like(ys), np.empty_like(xs)
        for i in range(n):
            self.host.set_normalized(params_norm[i])
            ref[i] = self.host.render(ys[i])
            y[i] = self.host.render(xs[i])
        return {"x": xs.astype(np.float32), "ref": ref, "y": y, "params_norm": params_norm,
                "params": params, "param_bins": bins.astype(np.int64)}


def _write_npz(fh, arrays: dict[str, np.ndarray]) -> None:
    """An .npz readable by np.load, byte-identical for identical arrays (np.savez stamps the time)."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz atomically: a kill never leaves half a shard under the final name."""
    with atomic_open(path, "wb") as fh:
        _write_npz(fh, arrays)
