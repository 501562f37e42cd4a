"""The dataset manifest, one schema: ``render-dataset`` writes it, training and evaluation read it, tests make it.

``DATA_DIR/manifest.json`` describes a dataset rendered through one plugin: the profile (name, sha256,
parameter names, units and plugin indices), the audio (rate, segment length), the renderer's config and
every shard (``<split>/shard-NNNNN.npz``: its split, row count and source groups). Torch-free.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from model.atomic import write_json_atomic
from model.errors import DatasetError, ProfileMismatchError
from model.profiles import N_BINS, PluginProfile

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ShardEntry:
    """One shard file of the dataset."""

    path: str                       # relative to the dataset folder: "<split>/shard-NNNNN.npz"
    split: str                      # one of SPLITS
    rows: int
    groups: tuple[str, ...] = ()    # the recording groups it may draw from (splits never share a group)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "split": self.split, "rows": self.rows, "groups": list(self.groups)}


@dataclass(frozen=True)
class DatasetManifest:
    """What a dataset folder holds and how it was made."""

    profile_name: str
    profile_sha256: str
    sample_rate: int
    segment_s: float
    segment_samples: int
    parameter_names: tuple[str, ...]
    shards: tuple[ShardEntry, ...]
    parameter_units: tuple[str, ...] = ()
    parameter_indices: tuple[int, ...] = ()
    seed: int = 0
    n_bins: int = N_BINS
    config: Mapping[str, Any] = field(default_factory=dict)  # the renderer's settings (host.data.shards)
    plugin_file: str = ""
    plugin_sha256: str = ""
    plugin_version: str = ""
    audio_dir: str = ""
    root: Path | None = field(default=None, compare=False)   # the folder it was read from

    def shard_paths(self, split: str) -> list[Path]:
        """The split's shard files, in manifest order."""
        if split not in SPLITS:
            raise DatasetError(f"split {split!r} is not one of {SPLITS}")
        root = self.root or Path(".")
        return [root / s.path for s in self.shards if s.split == split]

    def check_profile(self, profile: PluginProfile) -> None:
        """Raises ProfileMismatchError if this dataset was made for another profile."""
        if profile.name != self.profile_name or profile.parameter_names != self.parameter_names:
            raise ProfileMismatchError(f"dataset {self.root} was rendered for profile {self.profile_name!r} "
                                       f"(parameters {list(self.parameter_names)}), not {profile.name!r}")
        if profile.sha256 and self.profile_sha256 and profile.sha256 != self.profile_sha256:
            log.warning("profile %r has changed since dataset %s was rendered (sha256 %s.. vs %s..)",
                        profile.name, self.root, profile.sha256[:12], self.profile_sha256[:12])

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "config": dict(self.config),
            "profile": self.profile_name,
            "profile_sha256": self.profile_sha256,
            "plugin_file": self.plugin_file,
            "plugin_sha256": self.plugin_sha256,
            "plugin_version": self.plugin_version,
            "sample_rate": self.sample_rate,
            "segment_s": self.segment_s,
            "segment_samples": self.segment_samples,
            "seed": self.seed,
            "n_bins": self.n_bins,
            "parameter_names": list(self.parameter_names),
            "parameter_units": list(self.parameter_units),
            "parameter_indices": list(self.parameter_indices),
            "audio_dir": self.audio_dir,
            "shards": [s.to_json() for s in self.shards],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], root: Path | None = None) -> "DatasetManifest":
        """Raises DatasetError: a required key is missing or malformed."""
        try:
            return cls(profile_name=raw["profile"], profile_sha256=raw.get("profile_sha256", ""),
                       sample_rate=int(raw["sample_rate"]), segment_s=float(raw["segment_s"]),
                       segment_samples=int(raw["segment_samples"]),
                       parameter_names=tuple(raw["parameter_names"]),
                       shards=tuple(ShardEntry(s["path"], s["split"], int(s["rows"]), tuple(s.get("groups", ())))
                                    for s in raw["shards"]),
                       parameter_units=tuple(raw.get("parameter_units", ())),
                       parameter_indices=tuple(int(i) for i in raw.get("parameter_indices", ())),
                       seed=int(raw.get("seed", 0)), n_bins=int(raw.get("n_bins", N_BINS)),
                       config=dict(raw.get("config", {})), plugin_file=raw.get("plugin_file", ""),
                       plugin_sha256=raw.get("plugin_sha256", ""), plugin_version=raw.get("plugin_version", ""),
                       audio_dir=raw.get("audio_dir", ""), root=root)
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{(root or Path('.')) / MANIFEST_NAME} lacks or has a malformed key: {exc!r}") from exc

    def write(self, data_dir: str | Path) -> Path:
        """Write ``data_dir/manifest.json`` atomically."""
        path = Path(data_dir) / MANIFEST_NAME
        write_json_atomic(path, self.to_json())
        return path


def read_manifest(data_dir: str | Path) -> DatasetManifest:
    """Parse ``data_dir/manifest.json``.

    Raises:
        DatasetError: the folder or manifest is missing, unreadable, or lacks a required key.
    """
    root = Path(data_dir)
    path = root / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DatasetError(f"no {MANIFEST_NAME} in {root}: is it a dataset folder? (make one with eqbridge "
                           f"render-dataset)") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise DatasetError(f"{path} is not a dataset manifest (a JSON object)")
    return DatasetManifest.from_json(raw, root)
