"""Output paths checked before any work, and written all together: no output may be an input or another output.

Every command that writes files calls these before it reads, predicts or renders anything:

- :func:`check_outputs`: output *files* against the inputs and each other (after resolving symlinks, and
  by inode where both exist, so a link to an input, a ``..`` detour or a relative path cannot slip through),
  and whether each can be written at all (a read-only folder, a parent that is a file).
- :func:`check_output_folder`: an output *folder* (apply, evaluate, render-dataset, corpus build,
  serve --midi-dir): not an input, not inside a folder the command searches for inputs, writable, and
  each file it will hold checked as above.
- :func:`outputs_together`: a command with several outputs (``match --out --settings-out --plot``)
  writes them to temporaries and renames them into place together; if one rename fails, the others are
  put back as they were, so the outputs are all new or all old.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from host.errors import EqbridgeError, OptionError

PathLike = Path | str


def _same(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    return a.exists() and b.exists() and os.path.samefile(a, b)


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def check_can_write(option: str, path: PathLike, folder: bool = False) -> None:
    """Raise OptionError unless ``path`` (a file, or with ``folder`` a folder) can be created or replaced.

    Probes by creating (and removing) a file in the nearest existing folder: permission bits alone do
    not tell (root ignores them; a read-only mount or an immutable folder refuses root too). Creates
    nothing that stays.
    """
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise OptionError(f"{option} {path} is a file; give a folder")
        if not folder and path.is_dir():
            raise OptionError(f"{option} {path} is a folder; give a file name")
    anchor = _nearest_existing(path if folder else path.parent)
    if not anchor.is_dir():
        raise OptionError(f"{option} {path}: {anchor} is a file, so the folder cannot be created; choose another path")
    try:
        fd, probe = tempfile.mkstemp(prefix=".eqbridge-write-probe-", dir=anchor)
    except OSError as exc:
        raise OptionError(f"{option} {path}: cannot write in {anchor} ({exc.strerror}); choose a writable "
                          f"location") from exc
    os.close(fd)
    os.unlink(probe)
    if not folder and path.is_file() and not os.access(path, os.W_OK):
        raise OptionError(f"{option} {path} cannot be replaced (read-only file); choose another path")


def check_outputs(inputs: Mapping[str, PathLike | None], outputs: Mapping[str, PathLike | None]) -> None:
    """Raise OptionError naming both options if an output is an input, a folder, two outputs are one file,
    or an output cannot be written (read-only location, a parent that is a file).

    ``inputs`` and ``outputs`` map option names (``"--out"``, ``"TRACK"``) to paths; None entries are skipped.
    An input may be a folder: an output file that is that folder is refused too.
    """
    sources = {name: Path(p) for name, p in inputs.items() if p is not None}
    given = {name: Path(p) for name, p in outputs.items() if p is not None}
    for out_name, out in given.items():
        if out.is_dir():
            raise OptionError(f"{out_name} {out} is a folder; give a file name")
        for in_name, src in sources.items():
            if _same(out, src):
                raise OptionError(f"{out_name} {out} would overwrite the input {in_name} {src}; choose another file")
    names = list(given)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if _same(given[a], given[b]):
                raise OptionError(f"{a} and {b} are the same file ({given[a]}); give each output its own path")
    for out_name, out in given.items():
        check_can_write(out_name, out)


def _inside(inner: Path, outer: Path) -> bool:
    return inner.resolve().is_relative_to(outer.resolve())


def check_output_folder(option: str, folder: PathLike, inputs: Mapping[str, PathLike | None],
                        files: Iterable[str] = (), searched: Iterable[str] = ()) -> None:
    """Raise OptionError if the output folder ``option`` would overwrite or mix with an input.

    Refused: ``folder`` is a file, is (a link to) an input file or folder, lies inside an input folder
    named in ``searched`` (one the command reads every file of: its outputs would become inputs), or
    cannot be written. ``files`` are the names (relative to ``folder``) of the files the command will
    write there; each is checked against the inputs and the others as by :func:`check_outputs`.
    """
    folder = Path(folder)
    sources = {name: Path(p) for name, p in inputs.items() if p is not None}
    if folder.exists() and not folder.is_dir():
        raise OptionError(f"{option} {folder} is a file; give a folder")
    for name, src in sources.items():
        if _same(folder, src):
            raise OptionError(f"{option} {folder} is the input {name} {src}: outputs would overwrite or mix with "
                              f"the inputs; choose another folder")
    for name in searched:
        src = sources.get(name)
        if src is not None and src.is_dir() and _inside(folder, src):
            raise OptionError(f"{option} {folder} lies inside the input folder {name} {src}, which is read "
                              f"file by file: outputs would become inputs; choose a folder outside it")
    check_can_write(option, folder, folder=True)
    check_outputs(sources, {f"{option} file {name}": folder / name for name in files})


@contextlib.contextmanager
def outputs_together(paths: Sequence[PathLike]) -> Iterator[list[Path]]:
    """Yield one temporary path per output, beside it and with its suffix; when the block ends without an
    error, rename them all into place; on any error no output changes.

    A rename that fails (disk full, a folder turned read-only) puts back the outputs already renamed:
    each file replaced is first moved aside and restored. Temporaries are named as
    :func:`model.atomic.atomic_path` names them (``.<name>.<random><suffix>``), so a killed run's leftovers
    are removed by :func:`model.atomic.remove_stale_temporaries`.
    """
    finals = [Path(p) for p in paths]
    temporaries: list[Path] = []
    aside: dict[Path, Path] = {}
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=final.suffix, dir=final.parent)
            os.close(fd)
            temporaries.append(Path(tmp))
        yield list(temporaries)
        done: list[Path] = []
        try:
            for tmp, final in zip(temporaries, finals):
                if final.exists():
                    fd, old = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent)
                    os.close(fd)
                    os.replace(final, old)
                    aside[final] = Path(old)
                os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
                os.replace(tmp, final)
                done.append(final)
        except OSError:
            for final in done:
                final.unlink(missing_ok=True)
            for final, old in aside.items():
                os.replace(old, final)
            aside.clear()
            raise
    finally:
        for p in [*temporaries, *aside.values()]:
            with contextlib.suppress(OSError):  # a leftover goes with the next run's remove_stale_temporaries
                p.unlink(missing_ok=True)


def dataset_inputs(option: str, data_dir: PathLike) -> dict[str, Path]:
    """A dataset folder's files as named inputs: the folder, its manifest and every shard it lists (only the
    folder when there is no readable manifest: the command that reads it says so)."""
    from model.manifest import MANIFEST_NAME, read_manifest  # torch-free

    data_dir = Path(data_dir)
    inputs = {option: data_dir}
    try:
        manifest = read_manifest(data_dir)
    except (EqbridgeError, OSError, ValueError):
        return inputs
    inputs[f"{option} {MANIFEST_NAME}"] = data_dir / MANIFEST_NAME
    for shard in manifest.shards:
        inputs[f"{option} shard {shard.path}"] = data_dir / shard.path
    return inputs
