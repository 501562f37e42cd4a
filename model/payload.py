"""Reading and writing eqbridge's torch payload files (checkpoints, controllers, encoders): one format, atomic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from model.atomic import atomic_path
from model.errors import CheckpointError
from model.profiles import PRESETS_DIR

FORMAT_VERSION = 1


def check_writable(out_path: Path, force: bool = False) -> None:
    """Refuse to replace a shipped file (anything under presets/) unless ``force``: a training run must not
    silently overwrite the checkpoint or controller the product uses.

    Raises:
        CheckpointError: ``out_path`` exists inside presets/ and ``force`` is False.
    """
    out = Path(out_path).resolve()
    if not force and out.exists() and out.is_relative_to(PRESETS_DIR):
        raise CheckpointError(f"{out_path} is a shipped file; pass --force to replace it, or choose another --out")


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file in the same folder, then rename (never half a checkpoint)."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_payload(path: str | Path) -> dict[str, Any]:
    """Raises CheckpointError if the file is missing or not an eqbridge checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train one with `eqbridge train`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not an eqbridge checkpoint (format {FORMAT_VERSION})")
    return payload
