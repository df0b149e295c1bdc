"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The bytes go to a temporary file in the target's directory, are flushed to disk, get the
permissions a plain ``open(path, "w")`` would give (mkstemp makes them 0600), and then
``os.replace`` moves them over the target in one step. :func:`save_outputs` does the same for the
files one command writes together (an export's weights, metadata and ``model.py``): all of them, or none.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Callable

from rnncli.errors import UsageError


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _written_temp(path: Path, write: Callable[[BinaryIO], object]) -> str:
    """A temporary file beside ``path`` holding what ``write`` wrote, flushed to disk, with a plain file's
    permissions; removed again if anything fails."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _default_mode())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(binary_file)`` on a temporary file beside ``path``, then move it into place.

    Raises OSError when the directory is missing or not writable; no temporary file is left.
    """
    path = Path(path)
    tmp = _written_temp(path, write)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_outputs(files: Sequence[tuple[str | Path, Callable[[BinaryIO], object]]]) -> None:
    """Write the files a command was asked for, all or none: each goes to a temporary file beside it, and
    only when every one is written do they move into place. A file that cannot be written (a missing or
    read-only folder, a folder of that name, a full disk) is a :class:`UsageError` naming it."""
    temps: list[tuple[str, Path]] = []
    path = None
    try:
        for path, write in files:
            path = Path(path)
            if path.is_dir():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            temps.append((_written_temp(path, write), path))
        for tmp, path in temps:
            os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}.",
                         hint="write it into a folder of your own that exists, under a name that is not a folder's; "
                              "check that the disk has room.") from None
    finally:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)  # left only when a file failed: the others never moved
