"""The shared, frozen encoder as a file of its own (``presets/encoder.pt``).

Exported once from a full Mimilakis checkpoint (the shipped faust-peq one); controller checkpoints
name it by path and by the sha256 of its weights, and loading a controller merges the two.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from model.config import NetworkConfig
from model.errors import CheckpointError
from model.features import FeatureConfig
from model.network import Encoder
from model.payload import FORMAT_VERSION, read_payload, save_atomic
from model.profiles import PRESETS_DIR

log = logging.getLogger(__name__)
DEFAULT_ENCODER = PRESETS_DIR / "encoder.pt"
KIND = "encoder"


@dataclass(frozen=True)
class LoadedEncoder:
    """A frozen encoder (eval mode, no gradients) and what it was trained with."""

    path: Path
    sha256: str  # of its weights (see :func:`state_sha256`)
    network_config: NetworkConfig  # the source network's config (n_mels, conv sizes, embed_dim)
    feature_config: FeatureConfig
    sample_rate: int
    segment_s: float
    encoder: Encoder


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """A digest of a state dict's names and exact tensor bytes (bit-identical weights, same digest)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def export_encoder(checkpoint: str | Path, out_path: str | Path = DEFAULT_ENCODER) -> Path:
    """Write the encoder weights of a full ``mimilakis`` or ``controller`` checkpoint to ``out_path``.

    Raises:
        CheckpointError: unreadable checkpoint, or an architecture without a shared encoder.
    """
    payload = read_payload(checkpoint)
    arch = payload["network"].get("arch")
    if arch not in ("mimilakis", "controller") or "encoder" in payload:
        raise CheckpointError(f"{checkpoint} ({arch}) holds no encoder weights to export; use a full mimilakis checkpoint")
    state = {k[len("encoder."):]: v for k, v in payload["state_dict"].items() if k.startswith("encoder.")}
    out = Path(out_path)
    save_atomic({"format_version": FORMAT_VERSION, "kind": KIND, "network": payload["network"],
                 "features": payload["features"], "sample_rate": payload["sample_rate"],
                 "segment_s": payload["segment_s"], "source_checkpoint": str(Path(checkpoint).name),
                 "source_profile": payload["profile_name"], "sha256": state_sha256(state), "state_dict": state}, out)
    log.info("exported the encoder of %s (%d tensors) to %s", checkpoint, len(state), out)
    return out


def encoder_reference(path: Path) -> str:
    """How a controller checkpoint names its encoder: relative to presets/ when inside it."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(PRESETS_DIR)) if resolved.is_relative_to(PRESETS_DIR) else str(resolved)


def resolve_reference(reference: str) -> Path:
    path = Path(reference)
    return path if path.is_absolute() else PRESETS_DIR / path


def read_encoder_payload(path: str | Path) -> dict[str, Any]:
    """Raises CheckpointError if ``path`` is missing or not an exported encoder."""
    payload = read_payload(path)
    if payload.get("kind") != KIND:
        raise CheckpointError(f"{path} is not an eqbridge encoder file; export one from a full mimilakis checkpoint "
                           f"with model.encoder_store.export_encoder (presets/encoder.pt comes from faust-peq.pt)")
    return payload


def load_encoder(path: str | Path = DEFAULT_ENCODER) -> LoadedEncoder:
    """The frozen encoder in ``path`` (eval mode, requires_grad False).

    Raises:
        CheckpointError: missing, unreadable or not an encoder file.
    """
    payload = read_encoder_payload(path)
    net_cfg = NetworkConfig.from_dict(payload["network"])
    encoder = Encoder(net_cfg)
    encoder.load_state_dict(payload["state_dict"])
    encoder.eval()
    encoder.requires_grad_(False)
    return LoadedEncoder(path=Path(path), sha256=payload["sha256"], network_config=net_cfg,
                         feature_config=FeatureConfig.from_dict(payload["features"]),
                         sample_rate=int(payload["sample_rate"]), segment_s=float(payload["segment_s"]),
                         encoder=encoder)


def merged_state(payload: dict[str, Any], checkpoint: str | Path) -> dict[str, torch.Tensor]:
    """A controller checkpoint's state dict with its encoder's weights added under ``encoder.``.

    Raises:
        CheckpointError: the encoder file is missing or its weights changed since the controller was trained.
    """
    reference = payload["encoder"]
    path = resolve_reference(reference["path"])
    enc = read_encoder_payload(path)
    if enc["sha256"] != reference["sha256"]:
        raise CheckpointError(f"controller {checkpoint} was trained on encoder {path} with weights sha256 "
                           f"{reference['sha256'][:12]}.., but that file now holds {enc['sha256'][:12]}..; "
                           f"retrain the controller (eqbridge train --encoder)")
    return {**{f"encoder.{k}": v for k, v in enc["state_dict"].items()}, **payload["state_dict"]}
