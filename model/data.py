"""Read an eqbridge dataset folder (``manifest.json`` + ``<split>/shard-*.npz``) into torch Datasets.

Each shard holds ``x`` (input segment), ``ref`` (another part of the same recording through the EQ),
``y`` (x through the EQ), all (rows, samples) float32, and ``params`` (rows, P) physical,
``params_norm`` (rows, P) plugin-normalized, ``param_bins`` (rows, P) int64 labels.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from model.errors import DatasetError
from model.manifest import SPLITS, DatasetManifest, read_manifest
from model.profiles import N_BINS

log = logging.getLogger(__name__)
REFERENCE_KINDS = ("ref", "y")  # "y": the target itself (the easy "same material" case)


@dataclass(frozen=True)
class ShardRows:
    """The rows of one shard: tracks and references (rows, samples) float32, bins (rows, P), params (rows, P)."""

    tracks: np.ndarray
    references: np.ndarray
    bins: np.ndarray
    params: np.ndarray


def iter_shards(data_dir: str | Path, split: str, reference: str = "ref",
                max_rows: int | None = None) -> Iterator[ShardRows]:
    """Yield the rows of a split shard by shard (in manifest order), at most ``max_rows`` in all.

    Raises:
        DatasetError: unknown split or reference kind, no shards, an unreadable shard, bad labels.
    """
    if reference not in REFERENCE_KINDS:
        raise DatasetError(f"reference {reference!r} is not one of {REFERENCE_KINDS}")
    manifest = read_manifest(data_dir)
    paths = manifest.shard_paths(split)
    if not paths:
        raise DatasetError(f"dataset {manifest.root} has no {split!r} shards")
    n_params, left = len(manifest.parameter_names), max_rows
    for path in paths:
        if left is not None and left <= 0:
            return
        try:
            with np.load(path) as shard:
                rows = ShardRows(tracks=shard["x"].astype(np.float32, copy=False)[:left],
                                 references=shard[reference].astype(np.float32, copy=False)[:left],
                                 bins=shard["param_bins"].astype(np.int64, copy=False)[:left],
                                 params=shard["params"].astype(np.float64, copy=False)[:left])
        except (OSError, KeyError, ValueError) as exc:
            raise DatasetError(f"cannot read shard {path}: {exc!r}") from exc
        if rows.bins.ndim != 2 or rows.bins.shape[1] != n_params or rows.bins.min() < 0 or rows.bins.max() >= N_BINS:
            raise DatasetError(f"{path}: labels must be (rows, {n_params}) bins in 0..{N_BINS - 1}; got shape "
                               f"{rows.bins.shape}, range {rows.bins.min()}..{rows.bins.max()}")
        if left is not None:
            left -= len(rows.bins)
        yield rows


class SegmentDataset(Dataset):
    """All rows of one split in memory.

    Item: (track (samples,), reference (samples,), bins (P,) int64); the reference is ``ref``
    (default) or the target ``y`` (``reference="y"``: the "same material" easy case).
    """

    def __init__(self, data_dir: str | Path, split: str, reference: str = "ref",
                 max_rows: int | None = None) -> None:
        self.manifest = read_manifest(data_dir)
        shards = list(iter_shards(data_dir, split, reference, max_rows))
        self.tracks = torch.from_numpy(np.concatenate([s.tracks for s in shards]))  # (N, samples)
        self.references = torch.from_numpy(np.concatenate([s.references for s in shards]))  # (N, samples)
        self.bins = torch.from_numpy(np.concatenate([s.bins for s in shards]))  # (N, P)
        self.params = np.concatenate([s.params for s in shards])  # (N, P) physical
        log.info("loaded %d %s rows (%s reference) from %s", len(self), split, reference, self.manifest.root)

    def __len__(self) -> int:
        return self.bins.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.tracks[index], self.references[index], self.bins[index]


class FeatureDataset(Dataset):
    """Precomputed front-end features of a split (the front end is fixed, so training computes it once
    instead of every epoch), shard by shard so the raw audio is never all in memory.
    Item: (track mel (M, T), reference mel (M, T), bins (P,)).

    dB features are stored as float16 (0.03 dB steps at 40 dB), linear power as bfloat16 (float32's range).
    """

    def __init__(self, data_dir: str | Path, split: str, front_end: torch.nn.Module, reference: str = "ref",
                 max_rows: int | None = None) -> None:
        from tqdm import tqdm

        dtype = torch.float16 if front_end.config.scale == "db" else torch.bfloat16
        manifest = read_manifest(data_dir)
        n_rows = sum(s.rows for s in manifest.shards if s.split == split)
        n_rows = n_rows if max_rows is None else min(n_rows, max_rows)
        cfg = front_end.config
        # Filled in place: a list of shards plus a cat would need twice the memory.
        self.tracks = torch.empty((n_rows, cfg.n_mels, cfg.n_frames(manifest.segment_samples)), dtype=dtype)
        self.references = torch.empty_like(self.tracks)  # (N, M, T)
        bins, filled = [], 0
        with torch.inference_mode():
            for rows in tqdm(iter_shards(data_dir, split, reference, max_rows),
                             total=len(manifest.shard_paths(split)), desc=f"{split} features", leave=False,
                             unit="shard"):
                stop = filled + len(rows.bins)
                self.tracks[filled:stop] = front_end(torch.from_numpy(rows.tracks))  # (b, M, T)
                self.references[filled:stop] = front_end(torch.from_numpy(rows.references))
                bins.append(torch.from_numpy(rows.bins))
                filled = stop
        if filled != n_rows:
            raise DatasetError(f"dataset {manifest.root}: the manifest lists {n_rows} {split} rows but the shards "
                               f"hold {filled}; re-render it")
        self.bins = torch.cat(bins)  # (N, P)
        log.info("precomputed %s features %s (%.2f GB)", split, tuple(self.tracks.shape),
                 2 * self.tracks.numel() * self.tracks.element_size() / 1e9)

    def __len__(self) -> int:
        return self.bins.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.tracks[index].float(), self.references[index].float(), self.bins[index]
