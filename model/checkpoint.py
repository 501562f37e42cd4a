"""Model checkpoints: the weights plus everything needed to use them for the right plugin.

A checkpoint records the profile name and sha256 (from the dataset manifest), the parameter
names, the network, feature and training configs, the sample rate and the training segment
length. Loading it for another profile raises ``ProfileMismatchError``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from model.architectures import build_network
from model.config import NetworkConfig, TrainConfig
from model.encoder_store import merged_state
from model.errors import ProfileMismatchError
from model.features import FeatureConfig, MelSpectrogram
from model.payload import FORMAT_VERSION, read_payload, save_atomic
from model.profiles import PluginProfile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A ready-to-run model (eval mode) and its metadata."""

    path: Path
    profile_name: str
    profile_sha256: str
    parameter_names: tuple[str, ...]
    sample_rate: int
    segment_s: float
    network_config: NetworkConfig
    feature_config: FeatureConfig
    train_config: TrainConfig
    features: MelSpectrogram
    network: nn.Module

    @torch.inference_mode()
    def logits(self, track: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """(B, samples_t), (B, samples_r) float32 at ``sample_rate`` -> (B, P, D) logits."""
        if track.shape == reference.shape:  # one front-end call for both: faster on CPU
            both = self.features(torch.cat([track, reference]))  # (2B, M, frames)
            return self.network(both[:len(track)], both[len(track):])
        return self.network(self.features(track), self.features(reference))

    def check_profile(self, profile: PluginProfile) -> None:
        """Raises ProfileMismatchError if this checkpoint was trained for another profile."""
        if profile.name != self.profile_name or profile.parameter_names != self.parameter_names:
            raise ProfileMismatchError(
                f"checkpoint {self.path} was trained for plugin profile {self.profile_name!r} "
                f"(parameters {list(self.parameter_names)}), not {profile.name!r}; "
                f"use presets/checkpoints/{profile.name}.pt or train one with `eqbridge train --plugin {profile.name}`")
        if self.profile_sha256 and profile.sha256 and profile.sha256 != self.profile_sha256:
            log.warning("profile %r changed since checkpoint %s was trained (sha256 %s.. vs %s..)",
                        profile.name, self.path, profile.sha256[:12], self.profile_sha256[:12])


def checkpoint_payload(network: nn.Module, *, profile_name: str, profile_sha256: str,
                       parameter_names: tuple[str, ...], sample_rate: int, segment_s: float,
                       network_config: NetworkConfig, feature_config: FeatureConfig,
                       train_config: TrainConfig, **extra: Any) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "profile_name": profile_name,
        "profile_sha256": profile_sha256,
        "parameter_names": list(parameter_names),
        "sample_rate": sample_rate,
        "segment_s": segment_s,
        "network": network_config.to_dict(),
        "features": feature_config.to_dict(),
        "train_config": train_config.to_dict(),
        "state_dict": network.state_dict(),
        **extra,
    }


def load_checkpoint(path: str | Path, profile: PluginProfile | None = None) -> LoadedModel:
    """Load a checkpoint into an eval-mode model; with ``profile``, check it was trained for it.

    Raises:
        CheckpointError: missing or unreadable file.
        ProfileMismatchError: the checkpoint belongs to another profile.
    """
    payload = read_payload(path)
    net_cfg = NetworkConfig.from_dict(payload["network"])
    feat_cfg = FeatureConfig.from_dict(payload["features"])
    network = build_network(net_cfg)
    if "encoder" in payload:  # a controller checkpoint: its weights plus the shared encoder's file
        network.load_state_dict(merged_state(payload, path))
    else:
        network.load_state_dict(payload["state_dict"])
    network.eval()
    model = LoadedModel(path=Path(path), profile_name=payload["profile_name"],
                        profile_sha256=payload["profile_sha256"],
                        parameter_names=tuple(payload["parameter_names"]),
                        sample_rate=int(payload["sample_rate"]), segment_s=float(payload["segment_s"]),
                        network_config=net_cfg, feature_config=feat_cfg,
                        train_config=TrainConfig.from_dict(payload["train_config"]),
                        features=MelSpectrogram(feat_cfg).eval(), network=network)
    if profile is not None:
        model.check_profile(profile)
    return model
