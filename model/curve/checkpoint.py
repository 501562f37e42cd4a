"""Reading a curve checkpoint (``eqbridge train-curve``'s ``.pt``) with torch: the network and the settings of
its front end. Inference reads the same weights without torch (model.curve.weights); this is what exports them,
and what training-side tools (examples/tune_restraint.py) and the tests use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from model.config import FeatureConfig
from model.curve.network import CurveNet
from model.curve.stats_config import StatsConfig
from model.curve.train import CHECKPOINT_KIND, CurveTrainConfig
from model.errors import CheckpointError
from model.profiles import CURVE_CHECKPOINT


@dataclass(frozen=True)
class CurveCheckpoint:
    """A curve checkpoint as trained: ``network`` in eval mode, the front end's ``features`` and ``stats``."""

    path: Path
    network: CurveNet
    config: CurveTrainConfig
    features: FeatureConfig
    stats: StatsConfig
    trained_on: tuple[str, ...]
    holdout_sources: tuple[str, ...]

    def state_arrays(self) -> dict[str, Any]:
        """The network's parameters as float32 NumPy arrays, by state-dict name."""
        return {name: t.detach().float().numpy().copy() for name, t in self.network.state_dict().items()}


def load_curve_checkpoint(path: str | Path | None = None) -> CurveCheckpoint:
    """Read a curve checkpoint (default ``presets/checkpoints/curve.pt``).

    Raises:
        CheckpointError: missing, unreadable, or not a curve checkpoint; the message says how to make one.
    """
    p = Path(path) if path is not None else CURVE_CHECKPOINT
    if not p.is_file():
        raise CheckpointError(f"no curve model at {p}; train one with `eqbridge train-curve --data CURVE_DATA --out {p}`")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise CheckpointError(f"cannot read curve model {p}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"{p} is not a curve model (train one with `eqbridge train-curve`)")
    config = CurveTrainConfig.from_dict(payload["train_config"])
    network = CurveNet(config.network)
    network.load_state_dict(payload["state_dict"])
    network.eval()
    return CurveCheckpoint(p, network, config, FeatureConfig.from_dict(payload["features"]),
                           StatsConfig.from_dict(payload["stats"]), tuple(payload.get("trained_on", ())),
                           tuple(payload.get("holdout_sources", ())))
