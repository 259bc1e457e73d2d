"""The commit protocol: what a crash at each step leaves, and what the next start makes of it.

A crash is simulated by an exception that the protocol does not handle (`Crash`, a
BaseException like the KeyboardInterrupt a signal raises) with any rollback disabled, then
the manifest is closed (which only releases the lock, as process death would) and opened
again as the restarted archiver would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ssmd.archiver.manifest import ManifestError, PlannedFile, StreamManifest
from ssmd.archiver.seqs import SeqRanges

pytestmark = pytest.mark.unit

STREAM = "MD_TEST_KRAKEN_FUTURES"


class Crash(BaseException):
    """Process death at this point."""


def _file(name: str, body: bytes = b"rows") -> PlannedFile:
    def write(target: Path) -> int:
        target.write_bytes(body)
        return len(body)

    return PlannedFile(f"venue=v/channel=trade/date=2025-11-21/hour=04/{name}", write)


def _opened(archive_dir: Path, **options: int) -> StreamManifest:
    manifest = StreamManifest(archive_dir, STREAM, **options)
    manifest.open()
    return manifest


def _data_files(archive_dir: Path) -> list[str]:
    return sorted(p.name for p in archive_dir.glob("venue=*/channel=*/date=*/hour=*/*"))


def _no_rollback(manifest: StreamManifest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest, "_roll_back", lambda names: None)


def test_a_commit_makes_files_durable_and_records_their_sequences(archive_dir: Path) -> None:
    manifest = _opened(archive_dir)
    sizes = manifest.commit_files([_file("a.parquet"), _file("b.parquet", b"xy")], [(1, 10)], 10)
    assert sizes == [4, 2]
    assert _data_files(archive_dir) == ["a.parquet", "b.parquet"]
    assert 10 in manifest.committed
    assert 11 not in manifest.committed
    manifest.close()
    again = _opened(archive_dir)
    assert again.committed == SeqRanges([(1, 10)])
    assert again.next_commit == 2
    assert list(again.staging_dir.iterdir()) == []
    again.close()


def test_crash_after_rename_before_commit_record_rolls_the_files_back(
    archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _opened(archive_dir)
    manifest.commit_files([_file("kept.parquet")], [(1, 5)], 5)
    real_append = manifest._append

    def append(record: object) -> None:
        if type(record).__name__ == "_Commit":
            raise Crash
        real_append(record)  # type: ignore[arg-type]

    monkeypatch.setattr(manifest, "_append", append)
    with pytest.raises(Crash):
        manifest.commit_files([_file("orphan-1.parquet"), _file("orphan-2.parquet")], [(6, 9)], 4)
    assert _data_files(archive_dir) == ["kept.parquet", "orphan-1.parquet", "orphan-2.parquet"]
    manifest.close()

    restarted = StreamManifest(archive_dir, STREAM)
    recovery = restarted.open()
    assert _data_files(archive_dir) == ["kept.parquet"]
    assert recovery.rolled_back == [2]
    assert len(recovery.removed_files) == 2
    assert restarted.committed == SeqRanges([(1, 5)])  # 6..9 will be redelivered and written
    assert restarted.next_commit == 3
    restarted.close()


def test_crash_between_renames_leaves_nothing_after_restart(
    archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _opened(archive_dir)
    _no_rollback(manifest, monkeypatch)
    real_replace = os.replace
    calls = 0

    def replace(source: str, target: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Crash
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(Crash):
        manifest.commit_files([_file("one.parquet"), _file("two.parquet")], [(1, 2)], 2)
    monkeypatch.setattr(os, "replace", real_replace)
    assert _data_files(archive_dir) == ["one.parquet"]
    assert [p.name for p in manifest.staging_dir.iterdir()] == ["two.parquet.tmp"]
    manifest.close()

    restarted = _opened(archive_dir)
    assert _data_files(archive_dir) == []
    assert list(restarted.staging_dir.iterdir()) == []
    assert restarted.committed == SeqRanges()
    restarted.close()


def test_crash_after_the_commit_record_keeps_the_files_and_their_sequences(
    archive_dir: Path,
) -> None:
    manifest = _opened(archive_dir)
    manifest.commit_files([_file("done.parquet")], [(1, 100)], 100)
    manifest.close()  # died before acking: the messages will be redelivered
    restarted = _opened(archive_dir)
    assert _data_files(archive_dir) == ["done.parquet"]
    assert all(seq in restarted.committed for seq in (1, 50, 100))
    restarted.close()


def test_a_torn_last_line_is_ignored_and_compacted_away(archive_dir: Path) -> None:
    manifest = _opened(archive_dir)
    manifest.commit_files([_file("a.parquet")], [(1, 3)], 3)
    manifest.close()
    with manifest.path.open("ab") as handle:
        handle.write(b'{"kind":"intent","commit":2,"fil')
    restarted = StreamManifest(archive_dir, STREAM)
    recovery = restarted.open()
    assert recovery.torn_tail
    assert restarted.committed == SeqRanges([(1, 3)])
    assert manifest.path.read_bytes().count(b"\n") == 1  # one checkpoint line
    restarted.commit_files([_file("b.parquet")], [(4, 4)], 1)
    restarted.close()
    assert _opened(archive_dir).committed == SeqRanges([(1, 4)])


def test_a_corrupt_line_before_the_end_stops_start_up(archive_dir: Path) -> None:
    manifest = _opened(archive_dir)
    manifest.commit_files([_file("a.parquet")], [(1, 3)], 3)
    manifest.close()
    lines = manifest.path.read_bytes().split(b"\n")
    lines.insert(1, b"not json")
    manifest.path.write_bytes(b"\n".join(lines))
    with pytest.raises(ManifestError, match="line 2 is corrupt"):
        StreamManifest(archive_dir, STREAM).open()


def test_a_second_archiver_on_the_same_stream_is_refused(archive_dir: Path) -> None:
    first = _opened(archive_dir)
    with pytest.raises(ManifestError, match="another archiver holds"):
        StreamManifest(archive_dir, STREAM).open()
    first.close()
    _opened(archive_dir).close()


def test_a_failed_write_is_rolled_back_and_the_next_commit_works(archive_dir: Path) -> None:
    manifest = _opened(archive_dir)

    def full_disk(target: Path) -> int:
        target.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        manifest.commit_files(
            [_file("ok.parquet"), PlannedFile("venue=v/x.parquet", full_disk)], [(1, 2)], 2
        )
    assert _data_files(archive_dir) == []
    assert list(manifest.staging_dir.iterdir()) == []
    assert manifest.committed == SeqRanges()
    manifest.commit_files([_file("retry.parquet")], [(1, 2)], 2)
    assert _data_files(archive_dir) == ["retry.parquet"]
    manifest.close()


def test_a_failed_rollback_breaks_the_manifest_until_restart(
    archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _opened(archive_dir)

    def failing(target: Path) -> int:
        raise OSError(5, "I/O error")

    def cannot_remove(path: Path) -> bool:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("ssmd.archiver.manifest.remove_file", cannot_remove)
    with pytest.raises(OSError, match="I/O error"):
        manifest.commit_files([PlannedFile("venue=v/x.parquet", failing)], [(1, 1)], 1)
    assert manifest.broken is not None
    assert manifest.state() == "broken"
    with pytest.raises(ManifestError, match="could not roll back"):
        manifest.commit_files([_file("next.parquet")], [(2, 2)], 1)
    manifest.close()
    monkeypatch.undo()
    assert _opened(archive_dir).state() == "open"


def test_the_manifest_is_compacted_to_one_checkpoint(archive_dir: Path) -> None:
    manifest = _opened(archive_dir, compact_every=4)
    for n in range(1, 6):
        manifest.commit_files([_file(f"{n}.parquet")], [(n * 10, n * 10 + 9)], 10)
    lines = manifest.path.read_bytes().splitlines()
    assert len(lines) <= 4
    manifest.close()
    again = _opened(archive_dir)
    assert again.committed == SeqRanges([(10, 59)])
    assert again.next_commit == 6
    again.close()
