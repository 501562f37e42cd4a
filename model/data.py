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
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from host.errors import DatasetError, ProfileMismatchError
from host.profiles import N_BINS, PluginProfile

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")
REFERENCE_KINDS = ("ref", "y")  # "y": the target itself (the easy "same material" case)


@dataclass(frozen=True)
class Manifest:
    """The parts of ``manifest.json`` the model side uses."""

    root: Path
    profile_name: str
    profile_sha256: str
    sample_rate: int
    segment_s: float
    segment_samples: int
    parameter_names: tuple[str, ...]
    shards: tuple[dict[str, Any], ...]

    def shard_paths(self, split: str) -> list[Path]:
        if split not in SPLITS:
            raise DatasetError(f"split {split!r} is not one of {SPLITS}")
        return [self.root / s["path"] for s in self.shards if s["split"] == split]

    def check_profile(self, profile: PluginProfile) -> None:
        """Raises ProfileMismatchError if this dataset was made for another profile."""
        if profile.name != self.profile_name or profile.parameter_names != self.parameter_names:
            raise ProfileMismatchError(f"dataset {self.root} was rendered for profile {self.profile_name!r} "
                                       f"(parameters {list(self.parameter_names)}), not {profile.name!r}")
        if profile.sha256 and self.profile_sha256 and profile.sha256 != self.profile_sha256:
            log.warning("profile %r has changed since dataset %s was rendered (sha256 %s.. vs %s..)",
                        profile.name, self.root, profile.sha256[:12], self.profile_sha256[:12])


def read_manifest(data_dir: str | Path) -> Manifest:
    """Parse ``data_dir/manifest.json``.

    Raises:
        DatasetError: the folder or manifest is missing or lacks a required key.
    """
    root = Path(data_dir)
    path = root / "manifest.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DatasetError(f"no manifest.json in {root}: is it a dataset folder (eqbridge dataset --out)?") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    try:
        return Manifest(root=root, profile_name=raw["profile"], profile_sha256=raw.get("profile_sha256", ""),
                        sample_rate=int(raw["sample_rate"]), segment_s=float(raw["segment_s"]),
                        segment_samples=int(raw["segment_samples"]),
                        parameter_names=tuple(raw["parameter_names"]), shards=tuple(raw["shards"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path} lacks or has a malformed key: {exc!r}") from exc


class SegmentDataset(Dataset):
    """All rows of one split in memory.

    Item: (track (samples,), reference (samples,), bins (P,) int64); the reference is ``ref``
    (default) or the target ``y`` (``reference="y"``: the "same material" easy case).
    """

    def __init__(self, data_dir: str | Path, split: str, reference: str = "ref",
                 max_rows: int | None = None) -> None:
        if reference not in REFERENCE_KINDS:
            raise DatasetError(f"reference {reference!r} is not one of {REFERENCE_KINDS}")
        self.manifest = read_manifest(data_dir)
        paths = self.manifest.shard_paths(split)
        if not paths:
            raise DatasetError(f"dataset {self.manifest.root} has no {split!r} shards")
        tracks, refs, bins, params = [], [], [], []
        n_rows = 0
        for path in paths:
            if max_rows is not None and n_rows >= max_rows:
                break
            try:
                with np.load(path) as shard:
                    tracks.append(shard["x"].astype(np.float32, copy=False))
                    refs.append(shard[reference].astype(np.float32, copy=False))
                    bins.append(shard["param_bins"].astype(np.int64, copy=False))
                    params.append(shard["params"].astype(np.float64, copy=False))
            except (OSError, KeyError, ValueError) as exc:
                raise DatasetError(f"cannot read shard {path}: {exc!r}") from exc
            n_rows += len(bins[-1])
        self.tracks = torch.from_numpy(np.concatenate(tracks)[:max_rows])  # (N, samples)
        self.references = torch.from_numpy(np.concatenate(refs)[:max_rows])  # (N, samples)
        self.bins = torch.from_numpy(np.concatenate(bins)[:max_rows])  # (N, P)
        self.params = np.concatenate(params)[:max_rows]  # (N, P) physical
        n_params = len(self.manifest.parameter_names)
        if self.bins.shape[1] != n_params or int(self.bins.min()) < 0 or int(self.bins.max()) >= N_BINS:
            raise DatasetError(f"{split} labels must be (rows, {n_params}) bins in 0..{N_BINS - 1}; "
                               f"got shape {tuple(self.bins.shape)}, range {int(self.bins.min())}..{int(self.bins.max())}")
        log.info("loaded %d %s rows (%s reference) from %s", len(self), split, reference, self.manifest.root)

    def __len__(self) -> int:
        return self.bins.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.tracks[index], self.references[index], self.bins[index]


class FeatureDataset(Dataset):
    """Precomputed front-end features of a SegmentDataset (the front end is fixed, so training
    computes it once instead of every epoch). Item: (track mel (M, T), reference mel (M, T), bins (P,)).

    dB features are stored as float16 (0.03 dB steps at 40 dB), linear power as bfloat16 (float32's range).
    """

    def __init__(self, segments: SegmentDataset, front_end: torch.nn.Module, batch_size: int = 32) -> None:
        from tqdm import tqdm

        dtype = torch.float16 if front_end.config.scale == "db" else torch.bfloat16
        tracks, refs = [], []
        with torch.inference_mode():
            for start in tqdm(range(0, len(segments), batch_size), desc="features", leave=False, unit="batch"):
                stop = start + batch_size
                tracks.append(front_end(segments.tracks[start:stop]).to(dtype))  # (b, M, T)
                refs.append(front_end(segments.references[start:stop]).to(dtype))  # (b, M, T)
        self.tracks = torch.cat(tracks)  # (N, M, T)
        self.references = torch.cat(refs)  # (N, M, T)
        self.bins = segments.bins  # (N, P)
        log.info("precomputed features %s (%.2f GB)", tuple(self.tracks.shape),
                 2 * self.tracks.numel() * self.tracks.element_size() / 1e9)

    def __len__(self) -> int:
        return self.bins.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.tracks[index].float(), self.references[index].float(), self.bins[index]
