"""Reading a curve checkpoint (``eqbridge train-curve``'s ``.pt``, or an ensemble of them written by
``eqbridge combine-curves``) with torch: the network and the settings of its front end. Inference reads the same
weights without torch (model.curve.weights); this is what exports them, and what training-side tools
(examples/tune_restraint.py) and the tests use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from model.config import FeatureConfig
from model.curve.ensemble import check_members
from model.curve.network import CurveEnsemble, CurveNet
from model.curve.stats_config import StatsConfig
from model.curve.train import CHECKPOINT_KIND, CurveTrainConfig
from model.digest import file_sha256
from model.errors import CheckpointError
from model.payload import check_writable, save_atomic
from model.profiles import CURVE_CHECKPOINT

ENSEMBLE_KIND = "eqbridge-curve-ensemble"
ENSEMBLE_VERSION = 1
# What every member of an ensemble must share: the same front end and the same training data.
_SHARED = ("features", "stats", "data_digest", "trained_on", "holdout_sources")


@dataclass(frozen=True)
class CurveCheckpoint:
    """A curve checkpoint as trained: ``network`` in eval mode (a CurveNet, or a CurveEnsemble of them) and the
    front end's ``features`` and ``stats``."""

    path: Path
    network: CurveNet | CurveEnsemble
    config: CurveTrainConfig
    features: FeatureConfig
    stats: StatsConfig
    trained_on: tuple[str, ...]
    holdout_sources: tuple[str, ...]

    @property
    def members(self) -> tuple[CurveNet, ...]:
        """The member networks (one for a single checkpoint); each carries its own ``config``."""
        return tuple(self.network.members) if isinstance(self.network, CurveEnsemble) else (self.network,)

    def member_arrays(self) -> list[dict[str, np.ndarray]]:
        """Each member network's parameters as float32 NumPy arrays, by its own state-dict names."""
        return [{name: t.detach().float().numpy().copy() for name, t in m.state_dict().items()} for m in self.members]


def _read(p: Path) -> dict[str, Any]:
    if not p.is_file():
        raise CheckpointError(f"no curve model at {p}; train one with `eqbridge train-curve --data CURVE_DATA --out {p}`")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise CheckpointError(f"cannot read curve model {p}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("kind") not in (CHECKPOINT_KIND, ENSEMBLE_KIND):
        raise CheckpointError(f"{p} is not a curve model (train one with `eqbridge train-curve`)")
    return payload


def _network(member: dict[str, Any]) -> tuple[CurveNet, CurveTrainConfig]:
    config = CurveTrainConfig.from_dict(member["train_config"])
    network = CurveNet(config.network)
    network.load_state_dict(member["state_dict"])
    return network.eval(), config


def load_curve_checkpoint(path: str | Path | None = None) -> CurveCheckpoint:
    """Read a curve checkpoint or ensemble (default ``presets/checkpoints/curve.pt``).

    Raises:
        CheckpointError: missing, unreadable, or not a curve checkpoint; the message says how to make one.
    """
    p = Path(path) if path is not None else CURVE_CHECKPOINT
    payload = _read(p)
    members = payload["members"] if payload["kind"] == ENSEMBLE_KIND else [payload]
    check_members(len(members))
    built = [_network(m) for m in members]
    network = built[0][0] if payload["kind"] == CHECKPOINT_KIND else CurveEnsemble([n for n, _ in built]).eval()
    return CurveCheckpoint(p, network, built[0][1], FeatureConfig.from_dict(payload["features"]),
                           StatsConfig.from_dict(payload["stats"]), tuple(payload.get("trained_on", ())),
                           tuple(payload.get("holdout_sources", ())))


def write_ensemble(member_paths: Sequence[str | Path], out_path: str | Path, force: bool = False) -> Path:
    """Write the curve checkpoints ``member_paths`` (each from ``train-curve``, on the same curve data) as one
    ensemble checkpoint at ``out_path`` (atomically).

    Raises:
        CheckpointError: fewer than 2 or more than MAX_MEMBERS members, a member that is missing, unreadable, an
            ensemble itself, or trained on other data or front end settings than the first, the same file twice,
            ``out_path`` one of the members, or the shipped model without ``force``.
    """
    paths, out = [Path(p) for p in member_paths], Path(out_path)
    check_members(len(paths))
    if len(paths) < 2:
        raise CheckpointError("an ensemble needs at least 2 members; a single checkpoint is used as it is")
    if any(out.resolve() == p.resolve() for p in paths):
        raise CheckpointError(f"--out {out} is one of the members; write the ensemble to another file")
    check_writable(out, force)
    digests = [file_sha256(p) if p.is_file() else "" for p in paths]
    payloads = [_read(p) for p in paths]
    for p, d, payload in zip(paths, digests, payloads):
        if payload["kind"] != CHECKPOINT_KIND:
            raise CheckpointError(f"{p} is an ensemble already; combine the members it was made from")
        if digests.count(d) > 1:
            raise CheckpointError(f"{p} is given twice (or is a copy of another member)")
        for key in _SHARED:
            if payload.get(key) != payloads[0].get(key):
                raise CheckpointError(f"{p} and {paths[0]} differ in {key}: members must be trained on the same "
                                      f"curve data")
    shared = {key: payloads[0].get(key) for key in _SHARED}
    members = [{k: v for k, v in payload.items() if k != "optimizer"} for payload in payloads]
    save_atomic({"kind": ENSEMBLE_KIND, "version": ENSEMBLE_VERSION, **shared, "members": members,
                 "member_files": [p.name for p in paths], "member_sha256": digests}, out)
    return out
