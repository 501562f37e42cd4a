"""Curve training data: dry per-segment statistics of whole recordings, a bank of plugin curves, and a
sampler that makes (track, reference, curve) pairs from them on the fly.

The folder (written by ``eqbridge curve-data``, host/data/curve_data.py) holds

- ``stats.npy``   (N, S, M) float32: :func:`model.curve.features.band_stats` of N segments, dB, unnormalized,
- ``segments.npy`` (N, 2) float64: start and length of each segment in its file, seconds,
- ``curves.npy``  (K, M) float32: effective mel gains (dB) of K random settings of the EQ profiles,
- ``curve_data.json``: the front end and stats settings, and per file its source, kind, group, split and the
  range of its segments.

With ``curve-data --rendered PLUGIN`` it also holds, for the same segments, the statistics of each file variant
rendered through the real plugin at R random settings (``rendered`` in the JSON names the plugin and R):

- ``rendered_stats.npy``  (N, R, S, M) float32: the segment's statistics in render r; NaN where not rendered
  (held-out test files) or refused (the render left too little sound),
- ``rendered_curves.npy`` (N, R, M) float32: the model's view of render r's setting (the same for every segment
  of a file variant), NaN where not rendered,
- ``rendered_usable.npy`` (N, R) bool: where ``rendered_stats`` holds statistics.

A pair takes two non-overlapping segments of one file (two parts of one recording, as in Mimilakis et al.),
colours both with the same random scene curve and adds a bank curve to the reference's level channels; by
linearity that is what rendering the reference through the plugin does to them (model.curve.response). With
``pairs="rendered"`` the reference's statistics and curve come from a real render instead (the scene and the
flat pairs stay as they are), which measures what that approximation costs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from model.atomic import atomic_path, write_json_atomic
from model.config import FeatureConfig
from model.curve.features import StatsConfig
from model.curve.response import mel_center_frequencies_hz
from model.errors import DatasetError

DATA_JSON = "curve_data.json"
FORMAT_VERSION = 1
SCENE_CURVE_SCALE = 0.5        # the shared scene colouring: a bank curve at half strength...
SCENE_TILT_DB_PER_OCT = 1.0    # ...plus a spectral tilt of up to this much (both parts alike)
FLAT_SHARE = 0.05              # pairs whose reference is not EQ'd at all (teaches the match to do nothing)
MAX_OVERLAP_TRIES = 8
PAIR_KINDS = ("analytic", "rendered")
RENDERED_FILES = ("rendered_stats.npy", "rendered_curves.npy", "rendered_usable.npy")


@dataclass(frozen=True)
class FileSegments:
    path: str
    source: str
    kind: str
    group: str
    split: str
    first: int     # index of its first segment in stats.npy
    count: int


@dataclass(frozen=True)
class RenderedStats:
    """The segments' statistics in R renders of their file variant through a real plugin (see the module doc)."""

    plugin: str
    stats: np.ndarray       # (N, R, S, M) float32, NaN where not usable
    curves: np.ndarray      # (N, R, M) float32
    usable: np.ndarray      # (N, R) bool

    @property
    def renders(self) -> int:
        return int(self.usable.shape[1])


@dataclass(frozen=True)
class CurveData:
    stats: np.ndarray       # (N, S, M)
    segments: np.ndarray    # (N, 2) start_s, length_s
    curves: np.ndarray      # (K, M)
    files: tuple[FileSegments, ...]
    features: FeatureConfig
    stats_config: StatsConfig
    meta: dict
    rendered: RenderedStats | None = None

    def split_files(self, split: str) -> list[FileSegments]:
        return [f for f in self.files if f.split == split and f.count >= 2]


def load_curve_data(folder: str | Path) -> CurveData:
    """Read a curve-data folder (memory-mapped arrays).

    Raises:
        DatasetError: missing or inconsistent files; the message names the command that makes them.
    """
    root = Path(folder)
    meta_path = root / DATA_JSON
    if not meta_path.exists():
        raise DatasetError(f"{root} is not curve data (no {DATA_JSON}); make it with `eqbridge curve-data`")
    meta = json.loads(meta_path.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise DatasetError(f"{meta_path}: format {meta.get('format_version')!r}, this eqbridge reads {FORMAT_VERSION}")
    try:
        stats = np.load(root / "stats.npy", mmap_mode="r")
        segments = np.load(root / "segments.npy")
        curves = np.load(root / "curves.npy")
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{root}: unreadable curve data ({exc}); rebuild it with `eqbridge curve-data`") from exc
    files = tuple(FileSegments(**f) for f in meta["files"])
    if stats.shape[0] != segments.shape[0] or sum(f.count for f in files) != stats.shape[0]:
        raise DatasetError(f"{root}: {stats.shape[0]} statistics, {segments.shape[0]} segments and "
                           f"{sum(f.count for f in files)} listed; rebuild it with `eqbridge curve-data`")
    rendered = _load_rendered(root, meta, stats.shape) if "rendered" in meta else None
    return CurveData(stats, segments, curves, files, FeatureConfig.from_dict(meta["features"]),
                     StatsConfig.from_dict(meta["stats"]), meta, rendered)


def _load_rendered(root: Path, meta: dict, shape: tuple[int, ...]) -> RenderedStats:
    try:
        stats = np.load(root / RENDERED_FILES[0], mmap_mode="r")
        curves, usable = (np.load(root / name) for name in RENDERED_FILES[1:])
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{root}: unreadable rendered statistics ({exc}); rebuild it with "
                           f"`eqbridge curve-data --rendered PLUGIN`") from exc
    n, r = shape[0], int(meta["rendered"]["renders"])
    if stats.shape != (n, r, *shape[1:]) or curves.shape != (n, r, shape[2]) or usable.shape != (n, r):
        raise DatasetError(f"{root}: rendered statistics {stats.shape}, curves {curves.shape} and usable "
                           f"{usable.shape} do not fit {n} segments x {r} renders; rebuild it with "
                           f"`eqbridge curve-data --rendered PLUGIN`")
    return RenderedStats(str(meta["rendered"]["plugin"]), stats, curves, usable.astype(bool))


SPEECH_SHARE = 0.25  # of training pairs; the rest is music. Source-equal weights gave speech 1/6, and the
                     # speech test (2 s dialogue rows) lagged the speech-only classifier


def _source_weights(files: list[FileSegments]) -> np.ndarray:
    """Speech ``SPEECH_SHARE`` of the pairs (when both kinds are present); within a kind each source equally
    likely and each file equally likely within its source (a soundtrack of 70 pieces and a stem-heavy MIDI set
    weigh the same)."""
    sources = [f.source for f in files]
    counts = {s: sources.count(s) for s in set(sources)}
    speech = np.array([f.kind == "speech" for f in files])
    w = np.array([1.0 / counts[s] for s in sources])
    if speech.any() and not speech.all():
        w[speech] *= SPEECH_SHARE / w[speech].sum()
        w[~speech] *= (1.0 - SPEECH_SHARE) / w[~speech].sum()
    return w / w.sum()


class PairSampler:
    """Seeded pairs from one split; ``batch(step)`` is a pure function of (seed, step), so a resumed run
    draws exactly the pairs a straight run would.

    ``pairs``: ``"analytic"`` adds a bank curve to the reference's dry statistics; ``"rendered"`` takes the
    reference's statistics and curve from one of its usable renders (data made with ``curve-data --rendered``).
    """

    def __init__(self, data: CurveData, split: str, seed: int, pairs: str = "analytic") -> None:
        if pairs not in PAIR_KINDS:
            raise DatasetError(f"pairs must be one of {', '.join(PAIR_KINDS)}, got {pairs!r}")
        if pairs == "rendered" and data.rendered is None:
            raise DatasetError("--pairs rendered needs curve data with rendered statistics; make it with "
                               "`eqbridge curve-data --rendered PLUGIN`")
        self.data, self.seed, self.pairs = data, seed, pairs
        self.files = data.split_files(split)
        if pairs == "rendered":  # a file variant none of whose segments has a usable render cannot be a reference
            usable = data.rendered.usable
            self.files = [f for f in self.files if usable[f.first:f.first + f.count].any()]
        if not self.files:
            raise DatasetError(f"curve data has no file with two segments in split {split!r}"
                               + (" and a usable render" if pairs == "rendered" else ""))
        self.weights = _source_weights(self.files)
        self.octaves = np.log2(mel_center_frequencies_hz(data.features) / 1000.0)  # (M,) octaves from 1 kHz

    def _pair(self, rng: np.random.Generator, f: FileSegments) -> tuple[int, int]:
        segs = self.data.segments
        for _ in range(MAX_OVERLAP_TRIES):
            a, b = rng.choice(f.count, size=2, replace=False) + f.first
            (sa, la), (sb, lb) = segs[a], segs[b]
            if sa + la <= sb or sb + lb <= sa:
                break
        return int(a), int(b)

    def _rendered_pair(self, rng: np.random.Generator, f: FileSegments) -> tuple[int, int, int]:
        """(track, reference, render): two non-overlapping segments (as :meth:`_pair`) whose reference has a
        usable render, and one of its usable renders. The track may be any segment: it is not rendered."""
        segs, usable = self.data.segments, self.data.rendered.usable
        for _ in range(MAX_OVERLAP_TRIES):
            a, b = rng.choice(f.count, size=2, replace=False) + f.first
            if not usable[b].any():
                a, b = b, a
            (sa, la), (sb, lb) = segs[a], segs[b]
            if usable[b].any() and (sa + la <= sb or sb + lb <= sa):
                break
        if not usable[b].any():  # rare: every try drew two segments without a usable render
            b = f.first + rng.choice(np.flatnonzero(usable[f.first:f.first + f.count].any(axis=1)))
            a = f.first + rng.choice(np.setdiff1d(np.arange(f.count), [b - f.first]))
        return int(a), int(b), int(rng.choice(np.flatnonzero(usable[b])))

    def batch(self, step: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(track stats (B, S, M), reference stats (B, S, M), true curve dB (B, M)), float32."""
        rng = np.random.default_rng([self.seed, step])
        picks = rng.choice(len(self.files), size=size, p=self.weights)
        bank = self.data.curves
        if self.pairs == "rendered":
            picked = np.array([self._rendered_pair(rng, self.files[i]) for i in picks])
            pairs, renders = picked[:, :2], picked[:, 2]
            track = np.array(self.data.stats[pairs[:, 0]], dtype=np.float32)
            ref = np.array(self.data.rendered.stats[pairs[:, 1], renders], dtype=np.float32)
            curve = np.array(self.data.rendered.curves[pairs[:, 1], renders], dtype=np.float32)
            flat = rng.random(size) < FLAT_SHARE
            ref[flat] = self.data.stats[pairs[flat, 1]]  # a flat pair: the reference as recorded
            curve[flat] = 0.0
        else:
            pairs = np.array([self._pair(rng, self.files[i]) for i in picks])
            track = np.array(self.data.stats[pairs[:, 0]], dtype=np.float32)
            ref = np.array(self.data.stats[pairs[:, 1]], dtype=np.float32)
            curve = bank[rng.integers(0, len(bank), size)].astype(np.float32)
            curve[rng.random(size) < FLAT_SHARE] = 0.0
        tilt = rng.uniform(-SCENE_TILT_DB_PER_OCT, SCENE_TILT_DB_PER_OCT, (size, 1)) * self.octaves
        scene = SCENE_CURVE_SCALE * bank[rng.integers(0, len(bank), size)] + tilt
        n_level = self.data.stats_config.n_level
        track[:, :n_level] += scene[:, None, :].astype(np.float32)
        shift = scene if self.pairs == "rendered" else scene + curve  # a render already holds its curve
        ref[:, :n_level] += shift[:, None, :].astype(np.float32)
        return track, ref, curve


def write_curve_data(folder: str | Path, stats: np.ndarray, segments: np.ndarray, curves: np.ndarray,
                     files: list[FileSegments], features: FeatureConfig, stats_config: StatsConfig,
                     extra: dict, rendered: RenderedStats | None = None) -> Path:
    """Write a curve-data folder (each file atomically; the JSON last, so a folder with it is complete).
    With ``rendered``, also its arrays (the JSON's ``rendered`` entry must name its plugin and renders)."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    arrays = [("stats.npy", stats.astype(np.float32)), ("segments.npy", segments.astype(np.float64)),
              ("curves.npy", curves.astype(np.float32))]
    if rendered is not None:
        arrays += list(zip(RENDERED_FILES, (rendered.stats.astype(np.float32, copy=False),
                                            rendered.curves.astype(np.float32), rendered.usable.astype(bool))))
    for name, array in arrays:
        with atomic_path(root / name, suffix=".npy") as tmp:
            np.save(tmp, array)
    meta = {"format_version": FORMAT_VERSION, "features": features.to_dict(), "stats": stats_config.to_dict(),
            **extra, "files": [asdict(f) for f in files]}
    write_json_atomic(root / DATA_JSON, meta)
    return root / DATA_JSON
