"""The registry of networks by name: ``build_network(cfg)`` instantiates the architecture ``cfg.arch`` names."""

from __future__ import annotations

from typing import Callable

from torch import nn

from model.config import ARCHITECTURE_NAMES, NetworkConfig
from model.controller import ControlledNet
from model.errors import ConfigError
from model.network import FixedFeatureNet, MimilakisNet

ARCHITECTURES: dict[str, Callable[[NetworkConfig], nn.Module]] = {
    "mimilakis": MimilakisNet,
    "controller": ControlledNet,  # frozen shared encoder + per-effect controller (model/controller.py)
    "baseline-linmel": lambda cfg: FixedFeatureNet(cfg, "linear"),
    "baseline-dbmel": lambda cfg: FixedFeatureNet(cfg, "db"),
}
FEATURE_SCALES: dict[str, str] = {"mimilakis": "db", "controller": "db", "baseline-linmel": "linear", "baseline-dbmel": "db"}


def build_network(cfg: NetworkConfig) -> nn.Module:
    """Instantiate the architecture ``cfg.arch`` names.

    Raises:
        ConfigError: unknown architecture (the message lists the known ones).
    """
    if cfg.arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {cfg.arch!r}; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[cfg.arch](cfg)

