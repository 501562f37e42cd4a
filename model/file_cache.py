"""Objects loaded from files (checkpoints), kept once per (resolved path, modification time)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class FileCache(Generic[T]):
    """``get(path, load)`` loads a file once and returns the same object until the file changes; thread-safe."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, float], T] = {}
        self._lock = threading.Lock()

    def get(self, path: Path, load: Callable[[Path], T]) -> T:
        key = (str(path.resolve()), path.stat().st_mtime if path.exists() else -1.0)
        with self._lock:
            if key not in self._items:
                self._items[key] = load(path)
            return self._items[key]
