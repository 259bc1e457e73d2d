"""The secmaster's writes: market upserts with change detection, lifecycle status, the outbox.

Every function runs inside the caller's transaction (``async with conn.transaction()``) and
writes, for each change it makes, in that same transaction:

* the ``markets`` row (``version`` + 1; the record as JSON, its content hash, the columns
  lookups filter on) and its ``tokens``;
* a ``status_history`` row when the lifecycle status or result changed (a market's first
  status counts: history starts at creation);
* one ``outbox`` row whose payload is the encoded `ReferenceRecord` of the change, with
  ``outbox_id`` = the row's id (taken from the outbox sequence first, so the payload is
  written once);
* and, at the end, ``NOTIFY secmaster_outbox`` (PostgreSQL delivers it at commit), which
  wakes the relay.

Change kinds: ``created`` (a new market, or one the venue lists again after it was
``removed``), ``status`` (only status or result differ), ``updated`` (anything else),
``removed`` (the venue no longer lists it: ``listed`` false, record unchanged). Equal
records write nothing. Writers of one venue are serialised by a transaction-level advisory
lock, so a sync's apply and a bus status update never interleave.

`apply_records` is batched for 50k records per call: one query reads the venue's hashes,
changed rows are written with ``unnest`` arrays, and only the records whose hash differs are
read back to classify the change.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, get_args

import msgspec

from ssmd.contracts.reference import Change, ReferenceRecord, RefStatus, encode_reference
from ssmd.contracts.symbols import split_market_id
from ssmd.db import Connection, translate_errors
from ssmd.secmaster.model import MarketRecord, decode_record

log = logging.getLogger(__name__)

NOTIFY_CHANNEL: Final = "secmaster_outbox"
"""The channel every committed change notifies (the relay LISTENs on it)."""
REF_STATUSES: Final[frozenset[str]] = frozenset(get_args(RefStatus))
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_LOCK_NAMESPACE: Final = b"ssmd.secmaster.venue:"


class SeriesRow(msgspec.Struct, frozen=True, kw_only=True):
    """A series (Kalshi's template of events) as the ``series`` table keeps it."""

    series: str
    title: str | None = None
    category: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    frequency: str | None = None
    attributes: dict[str, str] = msgspec.field(default_factory=dict)


class EventRow(msgspec.Struct, frozen=True, kw_only=True):
    """An event (a group of markets) as the ``events`` table keeps it."""

    event: str
    series: str | None = None
    title: str | None = None
    sub_title: str | None = None
    category: str | None = None
    attributes: dict[str, str] = msgspec.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Existing:
    content_hash: str
    version: int
    listed: bool


@dataclass(frozen=True, slots=True)
class _Write:
    """One market row to write and the change it makes."""

    market: str
    record: MarketRecord
    content_hash: str
    change: Change
    version: int
    status_changed: bool


def ts_of_ns(ts_ns: int) -> datetime:
    """A timestamptz value (microseconds) of Unix nanoseconds."""
    return _EPOCH + timedelta(microseconds=ts_ns // 1000)


def venue_lock_key(venue: str) -> int:
    """The advisory lock key that serialises writers of `venue`'s markets."""
    digest = hashlib.sha256(_LOCK_NAMESPACE + venue.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _require_transaction(conn: Connection, what: str) -> None:
    if not conn.is_in_transaction():
        raise RuntimeError(f"{what} must run inside a transaction (async with conn.transaction())")


def _index(venue: str, records: Iterable[MarketRecord]) -> dict[str, MarketRecord]:
    indexed: dict[str, MarketRecord] = {}
    for record in records:
        market = record.market
        if record.venue != venue:
            raise ValueError(f"record {market} is not of venue {venue!r}")
        if market in indexed:
            raise ValueError(f"market {market} given twice")
        indexed[market] = record
    return indexed


async def apply_records(
    conn: Connection,
    venue: str,
    records: Iterable[MarketRecord],
    *,
    source: str,
    now_ns: int,
    full_universe: bool,
) -> list[ReferenceRecord]:
    """Upsert `records` of `venue`; return the change records written (see module doc).

    `full_universe`: `records` is everything the venue lists, so listed markets of `venue`
    absent from it become ``removed``. `source` goes into the status history (``rest``).
    """
    _require_transaction(conn, "apply_records")
    incoming = _index(venue, records)
    with translate_errors(f"applying {len(incoming)} {venue} market records"):
        await conn.execute("SELECT pg_advisory_xact_lock($1)", venue_lock_key(venue))
        rows = await conn.fetch(
            "SELECT market_id, content_hash, version, listed FROM markets WHERE venue = $1", venue
        )
        existing = {
            row["market_id"]: _Existing(row["content_hash"], row["version"], row["listed"])
            for row in rows
        }
        writes = await _classify(conn, incoming, existing)
        removed = (
            sorted(m for m, old in existing.items() if old.listed and m not in incoming)
            if full_universe
            else []
        )
        if not writes and not removed:
            return []
        ids = await _outbox_ids(conn, len(writes) + len(removed))
        references = [
            write.record.reference(
                change=write.change, version=write.version, outbox_id=outbox_id, ts_ns=now_ns
            )
            for write, outbox_id in zip(writes, ids, strict=False)
        ]
        await _write_markets(conn, venue, writes, now_ns)
        await _write_tokens(conn, writes)
        await _write_history(conn, [w for w in writes if w.status_changed], source, None, now_ns)
        references += await _remove(conn, removed, ids[len(writes) :], now_ns)
        await _write_outbox(conn, venue, references, now_ns)
        await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    log.info(
        "applied %d %s records: %d changes",
        len(incoming),
        venue,
        len(references),
        extra={"venue": venue, "records": len(incoming), "changes": len(references)},
    )
    return references


async def _classify(
    conn: Connection, incoming: dict[str, MarketRecord], existing: dict[str, _Existing]
) -> list[_Write]:
    """New markets, then changed ones (whose old record is read to name the change)."""
    created: list[_Write] = []
    differing: list[tuple[str, MarketRecord, str, _Existing]] = []
    for market, record in incoming.items():
        content_hash = record.content_hash()
        old = existing.get(market)
        if old is None:
            created.append(_Write(market, record, content_hash, "created", 1, True))
        elif old.content_hash != content_hash or not old.listed:
            differing.append((market, record, content_hash, old))
    if not differing:
        return created
    rows = await conn.fetch(
        "SELECT market_id, record FROM markets WHERE market_id = ANY($1::text[])",
        [market for market, _, _, _ in differing],
    )
    previous = {row["market_id"]: decode_record(row["record"]) for row in rows}
    changed: list[_Write] = []
    for market, record, content_hash, old in differing:
        before = previous[market]
        status_changed = (before.status, before.result) != (record.status, record.result)
        change: Change
        if not old.listed:
            change = "created"
        elif msgspec.structs.replace(before, status=record.status, result=record.result) == record:
            change = "status"
        else:
            change = "updated"
        changed.append(
            _Write(market, record, content_hash, change, old.version + 1, status_changed)
        )
    return created + changed


async def _outbox_ids(conn: Connection, count: int) -> list[int]:
    """`count` fresh outbox ids, ascending."""
    rows = await conn.fetch(
        "SELECT nextval(pg_get_serial_sequence('outbox', 'id')) AS id FROM generate_series(1, $1)",
        count,
    )
    return sorted(int(row["id"]) for row in rows)


async def _write_markets(
    conn: Connection, venue: str, writes: Sequence[_Write], now_ns: int
) -> None:
    if not writes:
        return
    records = [w.record for w in writes]
    now = ts_of_ns(now_ns)
    arguments = (
        [w.market for w in writes],
        [r.symbol for r in records],
        [r.kind for r in records],
        [r.status for r in records],
        [r.result for r in records],
        [r.title for r in records],
        [r.event for r in records],
        [r.series for r in records],
        [r.category for r in records],
        [None if r.close_ts_ns is None else ts_of_ns(r.close_ts_ns) for r in records],
        [r.to_json().decode() for r in records],
        [w.content_hash for w in writes],
        [w.version for w in writes],
    )
    await conn.execute(
        """
        INSERT INTO markets AS m (market_id, venue, symbol, kind, status, result, title, event,
                                  series, category, close_ts, record, content_hash, version,
                                  listed, created_at, updated_at)
        SELECT u.market_id, $1, u.symbol, u.kind, u.status, u.result, u.title, u.event,
               u.series, u.category, u.close_ts, u.record::jsonb, u.content_hash, u.version,
               true, $2, $2
        FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                    $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::text[],
                    $14::text[], $15::bigint[])
             AS u(market_id, symbol, kind, status, result, title, event, series, category,
                  close_ts, record, content_hash, version)
        ON CONFLICT (market_id) DO UPDATE SET
            symbol = EXCLUDED.symbol, kind = EXCLUDED.kind, status = EXCLUDED.status,
            result = EXCLUDED.result, title = EXCLUDED.title, event = EXCLUDED.event,
            series = EXCLUDED.series, category = EXCLUDED.category,
            close_ts = EXCLUDED.close_ts, record = EXCLUDED.record,
            content_hash = EXCLUDED.content_hash, version = EXCLUDED.version,
            listed = true, updated_at = EXCLUDED.updated_at
        """,
        venue,
        now,
        *arguments,
    )


async def _write_tokens(conn: Connection, writes: Sequence[_Write]) -> None:
    """Replace the tokens of every written market (a token may move between markets)."""
    changed = [w.market for w in writes if w.version > 1]
    if changed:
        await conn.execute("DELETE FROM tokens WHERE market_id = ANY($1::text[])", changed)
    tokens = {t.token_id: (w.market, t) for w in writes for t in w.record.tokens}
    if not tokens:
        return
    await conn.execute(
        """
        INSERT INTO tokens (token_id, market_id, outcome, is_yes)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[])
        ON CONFLICT (token_id) DO UPDATE SET
            market_id = EXCLUDED.market_id, outcome = EXCLUDED.outcome, is_yes = EXCLUDED.is_yes
        """,
        list(tokens),
        [market for market, _ in tokens.values()],
        [token.outcome for _, token in tokens.values()],
        [token.is_yes for _, token in tokens.values()],
    )


async def _write_history(
    conn: Connection,
    writes: Sequence[_Write],
    source: str,
    venue_ts_ns: int | None,
    now_ns: int,
) -> None:
    if not writes:
        return
    await conn.execute(
        """
        INSERT INTO status_history (market_id, status, result, source, venue_ts, recorded_at)
        SELECT u.market_id, u.status, u.result, $1, $2, $3
        FROM unnest($4::text[], $5::text[], $6::text[]) AS u(market_id, status, result)
        """,
        source,
        None if venue_ts_ns is None else ts_of_ns(venue_ts_ns),
        ts_of_ns(now_ns),
        [w.market for w in writes],
        [w.record.status for w in writes],
        [w.record.result for w in writes],
    )


async def _remove(
    conn: Connection, removed: Sequence[str], ids: Sequence[int], now_ns: int
) -> list[ReferenceRecord]:
    """Mark `removed` markets unlisted (version + 1); their change records, given `ids`."""
    if not removed:
        return []
    rows = await conn.fetch(
        """
        UPDATE markets SET listed = false, version = version + 1, updated_at = $2
        WHERE market_id = ANY($1::text[])
        RETURNING market_id, version, record
        """,
        list(removed),
        ts_of_ns(now_ns),
    )
    by_market = {row["market_id"]: row for row in rows}
    return [
        decode_record(by_market[market]["record"]).reference(
            change="removed",
            version=int(by_market[market]["version"]),
            outbox_id=outbox_id,
            ts_ns=now_ns,
        )
        for market, outbox_id in zip(removed, ids, strict=True)
    ]


async def _write_outbox(
    conn: Connection, venue: str, references: Sequence[ReferenceRecord], now_ns: int
) -> None:
    await conn.execute(
        """
        INSERT INTO outbox (id, venue, market_id, change, payload, created_at)
        SELECT u.id, $1, u.market_id, u.change, u.payload, $2
        FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bytea[])
             AS u(id, market_id, change, payload)
        """,
        venue,
        ts_of_ns(now_ns),
        [r.outbox_id for r in references],
        [r.market for r in references],
        [r.change for r in references],
        [encode_reference(r) for r in references],
    )


async def record_status(
    conn: Connection,
    market_id: str,
    status: str,
    result: str | None,
    *,
    source: str,
    venue_ts_ns: int | None,
    now_ns: int,
) -> ReferenceRecord | None:
    """Record a lifecycle status learnt outside a sync (a MarketStatus event on the bus).

    A known market whose status (or result) differs gets the new status, version + 1, a
    history row and a ``status`` outbox row; None otherwise (unknown market, nothing new).
    A `result` of None keeps the market's result (a status event rarely repeats it).
    """
    _require_transaction(conn, "record_status")
    if status not in REF_STATUSES:
        raise ValueError(f"status {status!r} is not one of {sorted(REF_STATUSES)}")
    venue, _ = split_market_id(market_id)
    with translate_errors(f"recording status {status} of {market_id}"):
        await conn.execute("SELECT pg_advisory_xact_lock($1)", venue_lock_key(venue))
        row = await conn.fetchrow(
            "SELECT record, version FROM markets WHERE market_id = $1", market_id
        )
        if row is None:
            return None
        before = decode_record(row["record"])
        new_result = result if result is not None else before.result
        if (before.status, before.result) == (status, new_result):
            return None
        record = msgspec.structs.replace(before, status=status, result=new_result)
        content_hash = record.content_hash()
        version = int(row["version"]) + 1
        (outbox_id,) = await _outbox_ids(conn, 1)
        reference = record.reference(
            change="status", version=version, outbox_id=outbox_id, ts_ns=now_ns
        )
        await conn.execute(
            """
            UPDATE markets SET status = $2, result = $3, record = $4::jsonb, content_hash = $5,
                               version = $6, updated_at = $7
            WHERE market_id = $1
            """,
            market_id,
            record.status,
            record.result,
            record.to_json().decode(),
            content_hash,
            version,
            ts_of_ns(now_ns),
        )
        write = _Write(market_id, record, content_hash, "status", version, True)
        await _write_history(conn, [write], source, venue_ts_ns, now_ns)
        await _write_outbox(conn, venue, [reference], now_ns)
        await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return reference


async def load_record(conn: Connection, market_id: str) -> tuple[MarketRecord, int] | None:
    """The record of `market_id` and its version, or None if the market is unknown."""
    with translate_errors(f"loading market {market_id}"):
        row = await conn.fetchrow(
            "SELECT record, version FROM markets WHERE market_id = $1", market_id
        )
    if row is None:
        return None
    return decode_record(row["record"]), int(row["version"])


async def upsert_series(conn: Connection, venue: str, rows: Sequence[SeriesRow]) -> None:
    """Insert or update `venue`'s series (rows whose content is unchanged are not written)."""
    if not rows:
        return
    unique = {row.series: row for row in rows}
    with translate_errors(f"upserting {len(unique)} {venue} series"):
        await conn.execute(
            """
            INSERT INTO series AS s (venue, series, title, category, tags, frequency, attributes)
            SELECT $1, u.series, u.title, u.category,
                   ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), u.frequency,
                   u.attributes::jsonb
            FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                 AS u(series, title, category, tags, frequency, attributes)
            ON CONFLICT (venue, series) DO UPDATE SET
                title = EXCLUDED.title, category = EXCLUDED.category, tags = EXCLUDED.tags,
                frequency = EXCLUDED.frequency, attributes = EXCLUDED.attributes,
                updated_at = now()
            WHERE (s.title, s.category, s.tags, s.frequency, s.attributes)
                  IS DISTINCT FROM
                  (EXCLUDED.title, EXCLUDED.category, EXCLUDED.tags, EXCLUDED.frequency,
                   EXCLUDED.attributes)
            """,
            venue,
            list(unique),
            [row.title for row in unique.values()],
            [row.category for row in unique.values()],
            [msgspec.json.encode(row.tags).decode() for row in unique.values()],
            [row.frequency for row in unique.values()],
            [msgspec.json.encode(row.attributes).decode() for row in unique.values()],
        )


async def upsert_events(conn: Connection, venue: str, rows: Sequence[EventRow]) -> None:
    """Insert or update `venue`'s events (rows whose content is unchanged are not written)."""
    if not rows:
        return
    unique = {row.event: row for row in rows}
    with translate_errors(f"upserting {len(unique)} {venue} events"):
        await conn.execute(
            """
            INSERT INTO events AS e (venue, event, series, title, sub_title, category, attributes)
            SELECT $1, u.event, u.series, u.title, u.sub_title, u.category, u.attributes::jsonb
            FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                 AS u(event, series, title, sub_title, category, attributes)
            ON CONFLICT (venue, event) DO UPDATE SET
                series = EXCLUDED.series, title = EXCLUDED.title,
                sub_title = EXCLUDED.sub_title, category = EXCLUDED.category,
                attributes = EXCLUDED.attributes, updated_at = now()
            WHERE (e.series, e.title, e.sub_title, e.category, e.attributes)
                  IS DISTINCT FROM
                  (EXCLUDED.series, EXCLUDED.title, EXCLUDED.sub_title, EXCLUDED.category,
                   EXCLUDED.attributes)
            """,
            venue,
            list(unique),
            [row.series for row in unique.values()],
            [row.title for row in unique.values()],
            [row.sub_title for row in unique.values()],
            [row.category for row in unique.values()],
            [msgspec.json.encode(row.attributes).decode() for row in unique.values()],
        )
