"""The archive's on-disk layout: the contract with every reader (gateway, tournament).

::

    <archive_dir>/venue=<venue>/channel=<type>/date=<YYYY-MM-DD>/hour=<HH>/<file>.parquet
    <archive_dir>/venue=<venue>/channel=raw/date=<YYYY-MM-DD>/hour=<HH>/<file>.jsonl
    <archive_dir>/_ssmd_archiver/...            the archiver's manifests, locks, staging

``<type>`` is the event's type tag (``trade``, ``quote``, ``book_snapshot``, ``book_delta``,
``market_status``, ``funding_rate``, ``gap``), one Arrow schema per type; ``date``/``hour``
are the UTC hour of ``ts_event`` (of the stream's store time for raw frames). The venue is
a name token and the type a fixed tag, so no venue data ever reaches a path: market ids
(which may hold '.', '*', '>', spaces, '/') stay inside the files.

A file is named ``<first stream seq>-<last stream seq>-<random>.<ext>``, sequences
zero-padded to 20 digits, so names sort by stream position and never collide. Partition
directories hold only finished files: a file is written under ``_ssmd_archiver/staging``
and renamed into place (see `ssmd.archiver.manifest` for when it counts as committed).
"""

from __future__ import annotations

import functools
import time
import uuid
from pathlib import PurePosixPath
from typing import Final

NS_PER_HOUR: Final = 3_600_000_000_000
PARQUET_SUFFIX: Final = ".parquet"
RAW_SUFFIX: Final = ".jsonl"
RAW_CHANNEL: Final = "raw"
STATE_DIR: Final = "_ssmd_archiver"  # '_' prefix: pyarrow and Hive-style readers skip it
STAGING_DIR: Final = "staging"
_SEQ_DIGITS: Final = 20  # a uint64 has at most 20 decimal digits


def hour_of(ts_ns: int) -> int:
    """The UTC hour (hours since the Unix epoch) that `ts_ns` falls in."""
    return ts_ns // NS_PER_HOUR


@functools.lru_cache(maxsize=4096)
def _date_hour(hour: int) -> tuple[str, str]:
    stamp = time.gmtime(hour * 3600)
    return time.strftime("%Y-%m-%d", stamp), f"{stamp.tm_hour:02d}"


def partition_dir(venue: str, channel: str, hour: int) -> PurePosixPath:
    """``venue=<venue>/channel=<channel>/date=<YYYY-MM-DD>/hour=<HH>``, relative to the root."""
    date, hh = _date_hour(hour)
    return PurePosixPath(f"venue={venue}", f"channel={channel}", f"date={date}", f"hour={hh}")


def file_name(first_seq: int, last_seq: int, suffix: str) -> str:
    """A unique file name that sorts by stream position: ``<first>-<last>-<random><suffix>``."""
    if not 0 <= first_seq <= last_seq:
        raise ValueError(f"bad sequence range {first_seq}..{last_seq}")
    return f"{first_seq:0{_SEQ_DIGITS}d}-{last_seq:0{_SEQ_DIGITS}d}-{uuid.uuid4().hex[:12]}{suffix}"


def data_file(venue: str, channel: str, hour: int, first_seq: int, last_seq: int) -> str:
    """Relative POSIX path of a new file for rows of `channel` in `hour`."""
    suffix = RAW_SUFFIX if channel == RAW_CHANNEL else PARQUET_SUFFIX
    return str(partition_dir(venue, channel, hour) / file_name(first_seq, last_seq, suffix))
