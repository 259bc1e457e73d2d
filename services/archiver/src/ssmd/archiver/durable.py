"""Making file-system changes durable: fsync of files and directories, atomic replace.

A rename or a new directory entry survives a power cut only once its directory has been
fsynced; these helpers do that step every time, so callers cannot forget it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_file(path: Path) -> None:
    """Flush `path`'s data and metadata to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush `path`'s directory entries (renames, creations, removals) to stable storage."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """Create `path` and its missing parents, each new entry fsynced in its parent."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another writer
            directory.mkdir()
        fsync_dir(directory.parent)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new content."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)


def remove_file(path: Path) -> bool:
    """Delete `path` if it exists; True if it did (the caller fsyncs the directory)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
