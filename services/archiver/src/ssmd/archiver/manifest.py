"""The commit protocol that makes the archive exactly-once across crashes.

Each stream has an append-only, fsynced manifest ``_ssmd_archiver/<STREAM>.manifest.jsonl``
(and a lock file, so two archivers never write one stream). One flush of a batch is one
commit, in this order:

1. **intent** ``{"kind": "intent", "commit": c, "files": [...]}`` appended and fsynced: the
   final paths the commit is about to create;
2. each file is written as ``_ssmd_archiver/staging/<STREAM>/<name>.tmp`` and fsynced, then renamed
   into its partition directory, and every touched directory is fsynced;
3. **commit** ``{"kind": "commit", "commit": c, "seqs": [[lo, hi], ...], "rows": n}``
   appended and fsynced: from here on the files are part of the archive;
4. only then are the messages acked (by the caller).

A SIGKILL or power cut can land anywhere, and the manifest says what to do on restart:

* before 3: the intent has no commit record, so its files (renamed or not) are deleted,
  the staging dir is emptied, and the messages, never acked, are redelivered and written
  again: no loss, no duplicate;
* after 3 but before 4: JetStream redelivers messages that are already archived; their
  stream sequences are in the committed set (`committed`), so they are acked and skipped;
* a torn last line (a write cut short) is ignored: it can only be an intent or commit
  record that did not complete, which is the first case.

Recovery therefore never scans the archive: it touches only the files of uncommitted
intents. At start, and every ``compact_every`` records, the manifest is rewritten (atomic
replace) as one checkpoint ``{"kind": "checkpoint", "next_commit": N, "committed": [...]}``.
The committed set is ranges of stream sequences, a few per stream, so it stays small.
Any failure to write the manifest, or to clean up after a failed commit, makes the
manifest refuse further commits (`ManifestError`): the process stops, and the next start
recovers from what is on disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Final, Literal

import msgspec

from ssmd.archiver.durable import fsync_dir, fsync_file, make_dirs, remove_file, write_atomically
from ssmd.archiver.layout import STAGING_DIR, STATE_DIR
from ssmd.archiver.seqs import Range, SeqRanges
from ssmd.core.errors import PermanentError

log = logging.getLogger(__name__)

FORMAT_VERSION: Final = 1
_KNOWN_DIRS_MAX: Final = 10_000
_STAGED_SUFFIX: Final = ".tmp"


class ManifestError(PermanentError):
    """The manifest cannot be read or written: stop, and recover on the next start."""


class _Checkpoint(msgspec.Struct, tag_field="kind", tag="checkpoint"):
    v: int
    stream: str
    next_commit: int
    committed: list[tuple[int, int]]


class _Intent(msgspec.Struct, tag_field="kind", tag="intent"):
    commit: int
    files: list[str]


class _Commit(msgspec.Struct, tag_field="kind", tag="commit"):
    commit: int
    seqs: list[tuple[int, int]]
    rows: int


_Record = _Checkpoint | _Intent | _Commit
_decode_record = msgspec.json.Decoder(_Record).decode
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """A file a commit will create: its path below the root and how to write it."""

    path: str  # relative POSIX path, e.g. venue=x/channel=trade/date=.../hour=05/<name>
    write: Callable[[Path], int]  # writes the content to the given path, returns its size


@dataclass(slots=True)
class Recovery:
    """What `StreamManifest.open` found and undid."""

    commits: int = 0
    rolled_back: list[int] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)
    torn_tail: bool = False


class StreamManifest:
    """The manifest, lock and staging area of one stream; see the module docstring."""

    def __init__(self, archive_dir: Path, stream: str, *, compact_every: int = 1000) -> None:
        self.archive_dir = archive_dir.absolute()
        self.stream = stream
        self.compact_every = compact_every
        state = self.archive_dir / STATE_DIR
        self.path = state / f"{stream}.manifest.jsonl"
        self.staging_dir = state / STAGING_DIR / stream
        self._lock_path = state / f"{stream}.lock"
        self.committed = SeqRanges()
        self.next_commit = 1
        self._records_since_checkpoint = 0
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._broken: str | None = None
        self._known_dirs: set[Path] = set()

    # -- life ----------------------------------------------------------------------------
    def open(self) -> Recovery:
        """Lock the stream, read the manifest, undo uncommitted work, compact. Idempotent."""
        if self._fd is not None:
            return Recovery()
        make_dirs(self.staging_dir)
        self._lock()
        try:
            recovery = self._recover()
            self._write_checkpoint()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except BaseException:
            self._unlock()
            raise
        return recovery

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._unlock()

    def _lock(self) -> None:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ManifestError(
                f"another archiver holds {self._lock_path}: one writer per stream"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    # -- recovery ------------------------------------------------------------------------
    def _read(self) -> tuple[list[_Record], bool]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return [], False
        lines = raw.split(b"\n")
        torn = lines[-1] != b""  # the last record's newline never made it
        complete = lines[:-1]
        records: list[_Record] = []
        for number, line in enumerate(complete, start=1):
            try:
                records.append(_decode_record(line))
            except msgspec.DecodeError as exc:
                if number == len(complete) and not torn:
                    torn = True  # a cut-short last line that happens to end in "\n"
                    break
                raise ManifestError(f"{self.path}: line {number} is corrupt: {exc}") from exc
        return records, torn

    def _recover(self) -> Recovery:
        records, torn = self._read()
        recovery = Recovery(torn_tail=torn)
        intents: dict[int, list[str]] = {}
        for record in records:
            if isinstance(record, _Checkpoint):
                if record.stream != self.stream:
                    raise ManifestError(f"{self.path} belongs to stream {record.stream}")
                self.committed = SeqRanges(record.committed)
                self.next_commit = record.next_commit
                intents.clear()
            elif isinstance(record, _Intent):
                intents[record.commit] = record.files
                self.next_commit = max(self.next_commit, record.commit + 1)
            else:
                intents.pop(record.commit, None)
                self.committed.add_all(record.seqs)
                recovery.commits += 1
        touched: set[Path] = set()
        for commit, files in sorted(intents.items()):
            recovery.rolled_back.append(commit)
            for name in files:
                final = self.archive_dir / name
                if remove_file(final):
                    recovery.removed_files.append(name)
                    touched.add(final.parent)
        for directory in sorted(touched):
            fsync_dir(directory)
        if any(self.staging_dir.iterdir()):
            shutil.rmtree(self.staging_dir)
            make_dirs(self.staging_dir)
        with contextlib.suppress(FileNotFoundError):
            self.path.with_name(f".{self.path.name}.tmp").unlink()
        if recovery.rolled_back or torn:
            log.warning(
                "stream %s: rolled back %d uncommitted flush(es), removed %d file(s)",
                self.stream,
                len(recovery.rolled_back),
                len(recovery.removed_files),
                extra={"torn_tail": torn, "commits": recovery.rolled_back},
            )
        return recovery

    def _write_checkpoint(self) -> None:
        record = _Checkpoint(
            v=FORMAT_VERSION,
            stream=self.stream,
            next_commit=self.next_commit,
            committed=list(self.committed),
        )
        write_atomically(self.path, _encode(record) + b"\n")
        self._records_since_checkpoint = 0

    # -- committing ----------------------------------------------------------------------
    def commit_files(
        self, files: Sequence[PlannedFile], seqs: Sequence[Range], rows: int
    ) -> list[int]:
        """Run one commit (intent, files, commit record); returns each file's size in bytes.

        On return the files are durable and `seqs` are in `committed`: ack the messages.
        On an error nothing of this commit is left in the archive (or, if even that
        cannot be ensured, the manifest is broken and every later call raises).
        """
        self._check_usable()
        if not files:
            raise ValueError("a commit needs at least one file")
        commit = self.next_commit
        self.next_commit += 1
        names = [planned.path for planned in files]
        self._append(_Intent(commit=commit, files=names))
        try:
            sizes = self._place(files)
        except BaseException:
            self._roll_back(names)
            raise
        self._append(_Commit(commit=commit, seqs=list(seqs), rows=rows))
        self.committed.add_all(seqs)
        if self._records_since_checkpoint >= self.compact_every:
            self._compact()
        return sizes

    def _place(self, files: Sequence[PlannedFile]) -> list[int]:
        staged: list[tuple[Path, Path]] = []
        sizes: list[int] = []
        for planned in files:
            relative = PurePosixPath(planned.path)
            temporary = self._staged(relative)
            sizes.append(planned.write(temporary))
            fsync_file(temporary)
            staged.append((temporary, self.archive_dir / relative))
        directories: set[Path] = set()
        for temporary, final in staged:
            directory = final.parent
            if directory not in self._known_dirs:
                make_dirs(directory)
                if len(self._known_dirs) >= _KNOWN_DIRS_MAX:
                    self._known_dirs.clear()
                self._known_dirs.add(directory)
            os.replace(temporary, final)
            directories.add(directory)
        for directory in directories:
            fsync_dir(directory)
        return sizes

    def _staged(self, relative: PurePosixPath) -> Path:
        # ".tmp": a reader globbing the whole root for *.parquet must never match it.
        return self.staging_dir / f"{relative.name}{_STAGED_SUFFIX}"

    def _roll_back(self, names: Sequence[str]) -> None:
        """Remove what a failed commit left; if that fails too, refuse further commits."""
        try:
            touched: set[Path] = set()
            for name in names:
                relative = PurePosixPath(name)
                remove_file(self._staged(relative))
                final = self.archive_dir / relative
                if remove_file(final):
                    touched.add(final.parent)
            for directory in touched:
                fsync_dir(directory)
        except OSError as exc:
            self._broken = f"could not roll back a failed flush: {exc}"
            log.exception("stream %s: %s", self.stream, self._broken)

    def _append(self, record: _Intent | _Commit) -> None:
        self._check_usable()
        assert self._fd is not None
        line = memoryview(_encode(record) + b"\n")
        try:
            while line:
                written = os.write(self._fd, line)
                line = line[written:]
            os.fsync(self._fd)
        except OSError as exc:
            # The record may be half written: appending after it would corrupt the log.
            self._broken = f"could not write {self.path}: {exc}"
            raise ManifestError(self._broken) from exc
        self._records_since_checkpoint += 1

    def _compact(self) -> None:
        """Rewrite the manifest as one checkpoint (no intent is open between commits)."""
        assert self._fd is not None
        try:
            self._write_checkpoint()
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            self._broken = f"could not compact {self.path}: {exc}"
            raise ManifestError(self._broken) from exc

    def _check_usable(self) -> None:
        if self._broken is not None:
            raise ManifestError(f"stream {self.stream}: {self._broken}")
        if self._fd is None:
            raise ManifestError(f"stream {self.stream}: manifest is not open")

    @property
    def broken(self) -> str | None:
        """Why the manifest refuses commits, or None while it works."""
        return self._broken

    def state(self) -> Literal["closed", "open", "broken"]:
        if self._broken is not None:
            return "broken"
        return "closed" if self._fd is None else "open"
