"""Shared fixtures: a tiny dataset in the host/data/dataset.py format and a small trained checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from host.plugins.filters import BandSetting, band_sos
from model.manifest import DatasetManifest, ShardEntry
from model.profiles import N_BINS, load_profile
from model.config import TrainConfig
from model.config import NetworkConfig
from model.train import train

SAMPLE_RATE = 44100
SEGMENT_S = 0.5
PROFILE = "faust-peq"


def low_shelf_sos(freq_hz: float, gain_db: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """RBJ cookbook low shelf (S=1), one second-order section (1, 6)."""
    return band_sos(BandSetting("low_shelf", freq_hz, gain_db), sample_rate)[None]


def write_tiny_dataset(root: Path, rows: dict[str, int], seed: int = 0) -> Path:
    """Noise recordings; ref and y go through a low shelf set by each row's low_gain/low_freq."""
    profile = load_profile(PROFILE)
    rng = np.random.default_rng(seed)
    n = int(SEGMENT_S * SAMPLE_RATE)
    shards = []
    for split, count in rows.items():
        bins = np.stack([profile.sample_bins(rng, N_BINS) for _ in range(count)])  # (rows, P)
        params = profile.from_bins(bins)
        recordings = 0.1 * rng.standard_normal((count, 2 * n)).astype(np.float32)
        x, ref, y = recordings[:, :n], np.empty((count, n), np.float32), np.empty((count, n), np.float32)
        for i in range(count):
            sos = low_shelf_sos(params[i, 1], params[i, 0])
            ref[i] = signal.sosfilt(sos, recordings[i, n:])
            y[i] = signal.sosfilt(sos, x[i])
        path = f"{split}/shard-{len(shards):05d}.npz"
        (root / split).mkdir(parents=True, exist_ok=True)
        np.savez(root / path, x=x, ref=ref, y=y, params=params, params_norm=profile.to_norm(params),
                 param_bins=bins.astype(np.int64))
        shards.append(ShardEntry(path, split, count, (split,)))
    DatasetManifest(profile_name=profile.name, profile_sha256=profile.sha256, sample_rate=SAMPLE_RATE,
                    segment_s=SEGMENT_S, segment_samples=n, parameter_names=profile.parameter_names,
                    shards=tuple(shards), parameter_units=tuple(p.unit for p in profile.parameters),
                    parameter_indices=tuple(range(profile.n_params)), seed=seed, plugin_file="test",
                    plugin_version="test").write(root)
    return root


def small_config(**changes) -> TrainConfig:
    return TrainConfig(epochs=2, batch_size=8, seed=3,
                       network=NetworkConfig(conv_channels=16, embed_dim=32, hidden=32)).replace(**changes)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("dataset"), {"train": 24, "val": 8, "test": 8})


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(tiny_dataset, tmp_path_factory.mktemp("ckpt") / "faust-peq.pt", small_config())
