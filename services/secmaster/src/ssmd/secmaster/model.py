"""`MarketRecord`: one market as the secmaster knows it, venue-neutral.

A venue sync turns each REST row into a `MarketRecord`; the store keeps it (as JSON, plus
the columns lookups filter on) and compares content hashes to know whether anything
changed; every committed change becomes a `ReferenceRecord` (the record plus change, version,
outbox id and commit time) on the ``SECMASTER`` stream.
"""

from __future__ import annotations

import hashlib
from typing import Final

import msgspec

from ssmd.contracts.reference import (
    Change,
    MarketKind,
    OutcomeToken,
    ReferenceRecord,
    RefStatus,
)
from ssmd.contracts.symbols import market_id

_ENCODER: Final = msgspec.json.Encoder(order="deterministic")


class MarketRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One market; `attributes` keeps venue facts without a column (strike, question id...)."""

    venue: str
    symbol: str
    kind: MarketKind
    status: RefStatus
    result: str | None = None
    title: str | None = None
    event: str | None = None
    series: str | None = None
    category: str | None = None
    tokens: list[OutcomeToken] = msgspec.field(default_factory=list)
    tick_size: str | None = None
    contract_size: str | None = None
    open_ts_ns: int | None = None
    close_ts_ns: int | None = None
    expiry_ts_ns: int | None = None
    attributes: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def market(self) -> str:
        """The canonical market id ``<venue>:<symbol>``."""
        return market_id(self.venue, self.symbol)

    def content_hash(self) -> str:
        """SHA-256 of the deterministic JSON: equal records, equal hashes."""
        return hashlib.sha256(_ENCODER.encode(self)).hexdigest()

    def to_json(self) -> bytes:
        return _ENCODER.encode(self)

    def reference(
        self, *, change: Change, version: int, outbox_id: int, ts_ns: int
    ) -> ReferenceRecord:
        """The change record of this market after a committed `change`."""
        return ReferenceRecord(
            change=change,
            market=self.market,
            venue=self.venue,
            symbol=self.symbol,
            kind=self.kind,
            status=self.status,
            result=self.result,
            title=self.title,
            event=self.event,
            series=self.series,
            category=self.category,
            tokens=list(self.tokens),
            tick_size=self.tick_size,
            contract_size=self.contract_size,
            open_ts_ns=self.open_ts_ns,
            close_ts_ns=self.close_ts_ns,
            expiry_ts_ns=self.expiry_ts_ns,
            version=version,
            outbox_id=outbox_id,
            ts_ns=ts_ns,
        )


_DECODER: Final = msgspec.json.Decoder(MarketRecord)


def decode_record(data: bytes | str) -> MarketRecord:
    return _DECODER.decode(data)
