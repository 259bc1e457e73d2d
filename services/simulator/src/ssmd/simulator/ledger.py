"""The ledger: a record of every frame the simulator sent, and of every fault it injected.

Tests compare what a client (or the connector behind it) received with what was sent: for
each frame, the connection, the kind (``data``, ``control``, ``fault``), the feed (or the
control event, or the fault action), the product, and where they apply the venue sequence,
trade id, price and size. Frames are recorded after they were written to the socket, so a
frame still queued when a connection dropped is not in the ledger.

The ledger is bounded (`max_entries`, oldest dropped first); `index` keeps counting, so a
reader can ask for entries since the last index it saw and knows when it missed some.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Iterator
from typing import Literal

import msgspec

Kind = Literal["data", "control", "fault"]


class Record(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """What was sent, independent of to whom: built once, shared by every connection."""

    kind: Kind
    feed: str
    product: str | None = None
    seq: int | None = None
    uid: str | None = None
    price: str | None = None
    qty: str | None = None
    detail: str | None = None


class LedgerEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One ledger line: a `Record` sent on a connection (None for venue-wide faults)."""

    index: int
    ts_ns: int
    connection: int | None
    kind: Kind
    feed: str
    product: str | None = None
    seq: int | None = None
    uid: str | None = None
    price: str | None = None
    qty: str | None = None
    detail: str | None = None


class Ledger:
    """Bounded, append-only record of sent frames; see module doc."""

    def __init__(self, max_entries: int) -> None:
        self._entries: deque[tuple[int, int | None, Record]] = deque(maxlen=max_entries)
        self._total = 0

    @property
    def total(self) -> int:
        """Entries ever recorded (the next entry's index)."""
        return self._total

    @property
    def dropped(self) -> int:
        """Entries dropped because the ledger was full."""
        return self._total - len(self._entries)

    def record(self, ts_ns: int, connection: int | None, record: Record) -> int:
        """Add one entry; return its index."""
        self._entries.append((ts_ns, connection, record))
        self._total += 1
        return self._total - 1

    def record_many(self, ts_ns: int, connection: int | None, records: list[Record]) -> None:
        """Add entries sent together (one batch on one connection)."""
        self._entries.extend([(ts_ns, connection, record) for record in records])
        self._total += len(records)

    def entries(
        self,
        *,
        kind: Kind | None = None,
        feed: str | None = None,
        product: str | None = None,
        connection: int | None = None,
        since: int = 0,
        limit: int | None = None,
    ) -> list[LedgerEntry]:
        """Entries matching every given filter, oldest first, from index `since` on."""
        return list(
            self.iter_entries(
                kind=kind,
                feed=feed,
                product=product,
                connection=connection,
                since=since,
                limit=limit,
            )
        )

    def iter_entries(
        self,
        *,
        kind: Kind | None = None,
        feed: str | None = None,
        product: str | None = None,
        connection: int | None = None,
        since: int = 0,
        limit: int | None = None,
    ) -> Iterator[LedgerEntry]:
        first = self.dropped
        start = max(since - first, 0)
        count = 0
        # A copy of the tail: the writers append while a reader streams the answer.
        tail = list(itertools.islice(self._entries, start, None))
        for offset, (ts_ns, conn, rec) in enumerate(tail):
            if limit is not None and count >= limit:
                return
            if kind is not None and rec.kind != kind:
                continue
            if feed is not None and rec.feed != feed:
                continue
            if product is not None and rec.product != product:
                continue
            if connection is not None and conn != connection:
                continue
            count += 1
            yield LedgerEntry(
                index=first + start + offset,
                ts_ns=ts_ns,
                connection=conn,
                kind=rec.kind,
                feed=rec.feed,
                product=rec.product,
                seq=rec.seq,
                uid=rec.uid,
                price=rec.price,
                qty=rec.qty,
                detail=rec.detail,
            )

    def summary(self) -> dict[str, object]:
        """Counts per (connection, kind, feed, product) and first/last sequence of each."""
        counts: Counter[tuple[int | None, str, str, str | None]] = Counter()
        first_seq: dict[tuple[int | None, str, str, str | None], int] = {}
        last_seq: dict[tuple[int | None, str, str, str | None], int] = {}
        for _, conn, rec in self._entries:
            key = (conn, rec.kind, rec.feed, rec.product)
            counts[key] += 1
            if rec.seq is not None:
                first_seq.setdefault(key, rec.seq)
                last_seq[key] = rec.seq
        groups = [
            {
                "connection": key[0],
                "kind": key[1],
                "feed": key[2],
                "product": key[3],
                "count": count,
                "first_seq": first_seq.get(key),
                "last_seq": last_seq.get(key),
            }
            for key, count in sorted(counts.items(), key=lambda item: repr(item[0]))
        ]
        return {"total": self._total, "dropped": self.dropped, "groups": groups}
