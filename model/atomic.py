"""Atomic file writes, the one implementation: write under a temporary name in the target folder, then rename.

A kill leaves either the old file or the new one under the final name, never half of one; the temporary
file is removed on any error. Torch-free: ``host/`` and ``model/`` both write through here.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def remove_stale_temporaries(path: Path | str) -> int:
    """Delete what a killed writer of ``path`` left behind (its temporaries); returns how many.

    Only files named as :func:`atomic_path` names them (``.<name>.<random><suffix>`` beside ``path``) go.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return 0
    stale = [p for p in path.parent.glob(_temporary_prefix(path) + "*") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


@contextlib.contextmanager
def atomic_path(path: Path | str, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "w") -> Iterator[IO]:
    with atomic_path(path) as tmp, open(tmp, mode) as fh:
        yield fh


def write_json_atomic(path: Path | str, data: object) -> None:
    with atomic_open(path) as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")


def write_text_atomic(path: Path | str, text: str) -> Path:
    with atomic_open(path) as fh:
        fh.write(text)
    return Path(path)
