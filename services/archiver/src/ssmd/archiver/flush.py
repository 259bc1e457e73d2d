"""One flush: a batch of stream messages into committed archive files.

`MarketFlusher` (``MD_*`` streams) drops redeliveries of committed messages, decodes each
payload with `ssmd.contracts.events.decode_event` (a payload that fails is returned as
`Rejected` with the reason, for the dead-letter subject), groups events by type and UTC
hour, builds one Arrow table per group and commits them as Parquet files (zstd).
`RawFlusher` (``RAW_*`` streams) writes the frames, bytes as received, as JSON lines.

Flushes run in a worker thread (`asyncio.to_thread`): everything here is synchronous, and
one flusher is only ever used by one flush at a time.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Final

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from ssmd.archiver.columns import EventColumns, all_columns
from ssmd.archiver.layout import RAW_CHANNEL, data_file, hour_of
from ssmd.archiver.manifest import PlannedFile, StreamManifest
from ssmd.archiver.seqs import SeqRanges, ranges_of
from ssmd.bus import Message, Rejected
from ssmd.contracts.events import ContractError, EventBase, MarketEvent, decode_event
from ssmd.core.errors import BadInputError

PARQUET_COMPRESSION: Final = "zstd"
_by_seq = attrgetter("stream_seq")


@dataclass(slots=True)
class FlushResult:
    """What one flush did, per channel (event type tag, or ``raw``)."""

    rejected: list[Rejected] = field(default_factory=list)
    skipped: int = 0  # redeliveries of messages already committed (or twice in the batch)
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)

    def count(self, channel: str, rows: int, size: int) -> None:
        self.rows[channel] = self.rows.get(channel, 0) + rows
        self.files[channel] = self.files.get(channel, 0) + 1
        self.bytes[channel] = self.bytes.get(channel, 0) + size


def select_fresh(messages: Sequence[Message], committed: SeqRanges) -> tuple[list[Message], int]:
    """The messages not yet committed, in stream order, each sequence once; and how many
    were dropped (redelivered after a crash or an ack timeout)."""
    ordered = sorted(messages, key=_by_seq)
    top = committed.max
    fresh: list[Message] = []
    previous = -1
    for message in ordered:
        seq = message.stream_seq
        if seq == previous or (seq <= top and seq in committed):
            continue
        previous = seq
        fresh.append(message)
    return fresh, len(messages) - len(fresh)


def write_parquet(table: pa.Table, path: Path) -> int:
    """Write `table` to `path` (zstd, statistics on); returns the file size."""
    pq.write_table(table, str(path), compression=PARQUET_COMPRESSION)
    return path.stat().st_size


class _Group:
    __slots__ = ("events", "msg_ids", "seqs")

    def __init__(self) -> None:
        self.events: list[MarketEvent] = []
        self.msg_ids: list[str | None] = []
        self.seqs: list[int] = []


class MarketFlusher:
    """Flushes batches of one ``MD_<ENV>_<VENUE>`` stream into Parquet files."""

    def __init__(self, venue: str, manifest: StreamManifest) -> None:
        self.venue = venue
        self.manifest = manifest
        self._columns: dict[type[EventBase], EventColumns] = all_columns()

    def flush(self, messages: Sequence[Message]) -> FlushResult:
        result = FlushResult()
        fresh, result.skipped = select_fresh(messages, self.manifest.committed)
        groups: dict[tuple[type[EventBase], int], _Group] = {}
        venue = self.venue
        for message in fresh:
            try:
                event = decode_event(message.data)
            except ContractError as exc:
                result.rejected.append(Rejected(message, BadInputError(str(exc))))
                continue
            if event.venue != venue:
                reason = f"event of venue {event.venue!r} on the {venue!r} stream"
                result.rejected.append(Rejected(message, BadInputError(reason)))
                continue
            key = (type(event), hour_of(event.ts_event_ns))
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group()
            group.events.append(event)
            group.msg_ids.append(message.msg_id)
            group.seqs.append(message.stream_seq)
        if not groups:
            return result
        planned: list[tuple[str, int, PlannedFile]] = []
        for (cls, hour), group in groups.items():
            columns = self._columns[cls]
            table = columns.table(group.events, group.msg_ids, group.seqs)
            path = data_file(venue, columns.tag, hour, group.seqs[0], group.seqs[-1])
            planned.append((columns.tag, table.num_rows, _parquet_file(path, table)))
        written = sorted(seq for group in groups.values() for seq in group.seqs)
        sizes = self.manifest.commit_files(
            [file for _, _, file in planned], ranges_of(written), len(written)
        )
        for (tag, rows, _), size in zip(planned, sizes, strict=True):
            result.count(tag, rows, size)
        return result


def _parquet_file(path: str, table: pa.Table) -> PlannedFile:
    return PlannedFile(path, lambda target: write_parquet(table, target))


class _RawRecord(msgspec.Struct, omit_defaults=True):
    """One line of a raw-frame file."""

    ts_recv_ns: int  # when the stream stored the frame (the frame has no time of its own)
    subject: str
    msg_id: str | None
    stream_seq: int
    frame: str | None = None  # the frame as text, when it is UTF-8 (venue frames are)
    frame_b64: str | None = None  # otherwise its bytes, base64


_encode_lines = msgspec.json.Encoder().encode_lines


def raw_record(message: Message) -> _RawRecord:
    try:
        text: str | None = message.data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return _RawRecord(
        ts_recv_ns=message.timestamp_ns,
        subject=message.subject,
        msg_id=message.msg_id,
        stream_seq=message.stream_seq,
        frame=text,
        frame_b64=None if text is not None else base64.b64encode(message.data).decode("ascii"),
    )


class RawFlusher:
    """Flushes batches of one ``RAW_<ENV>_<VENUE>`` stream into JSON-lines files."""

    def __init__(self, venue: str, manifest: StreamManifest) -> None:
        self.venue = venue
        self.manifest = manifest

    def flush(self, messages: Sequence[Message]) -> FlushResult:
        result = FlushResult()
        fresh, result.skipped = select_fresh(messages, self.manifest.committed)
        if not fresh:
            return result
        groups: dict[int, list[Message]] = {}
        for message in fresh:
            groups.setdefault(hour_of(message.timestamp_ns), []).append(message)
        planned: list[tuple[int, PlannedFile]] = []
        for hour, members in groups.items():
            path = data_file(
                self.venue, RAW_CHANNEL, hour, members[0].stream_seq, members[-1].stream_seq
            )
            body = _encode_lines([raw_record(message) for message in members])
            planned.append((len(members), PlannedFile(path, _bytes_writer(body))))
        seqs = ranges_of([message.stream_seq for message in fresh])
        sizes = self.manifest.commit_files([file for _, file in planned], seqs, len(fresh))
        for (rows, _), size in zip(planned, sizes, strict=True):
            result.count(RAW_CHANNEL, rows, size)
        return result


def _bytes_writer(body: bytes) -> Callable[[Path], int]:
    def write(target: Path) -> int:
        target.write_bytes(body)
        return len(body)

    return write
