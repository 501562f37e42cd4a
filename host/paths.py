"""Output paths checked before any work: no output may be an input or another output.

Paths are compared after resolving symlinks (and by inode where both exist), so a link to an input, a
``..`` detour or a relative path cannot slip through.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from host.errors import OptionError


def _same(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    return a.exists() and b.exists() and os.path.samefile(a, b)


def check_outputs(inputs: Mapping[str, Path | str], outputs: Mapping[str, Path | str | None]) -> None:
    """Raise OptionError naming both options if an output is an input, a folder, or two outputs are one file.

    ``inputs`` and ``outputs`` map option names (``"--out"``, ``"TRACK"``) to paths; None outputs are skipped.
    """
    given = {name: Path(p) for name, p in outputs.items() if p is not None}
    for out_name, out in given.items():
        if out.is_dir():
            raise OptionError(f"{out_name} {out} is a folder; give a file name")
        for in_name, src in inputs.items():
            if _same(out, Path(src)):
                raise OptionError(f"{out_name} {out} would overwrite the input {in_name} {src}; choose another file")
    names = list(given)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if _same(given[a], given[b]):
                raise OptionError(f"{a} and {b} are the same file ({given[a]}); give each output its own path")
