"""The secmaster's change records: one `ReferenceRecord` per committed change of a market.

Published by the secmaster's outbox relay on ``ref.<venue>.<change>.<market token>`` (stream
``SECMASTER``), in commit order, each with ``Nats-Msg-Id`` = `reference_msg_id` (the outbox
id), so a relay that re-sends after a crash stores nothing twice. A record carries the whole
market as it is after the change (not a diff): a reader that missed earlier records needs
only the last one of a market (`version` grows by one per change of that market).

Connectors follow these records to add and drop subscriptions; the gateway and the cache
use them to invalidate. Decoding validates every field (`ContractError` on a bad payload).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec

from ssmd.contracts.events import ContractError, MarketId, TimestampNs, Venue

Change = Literal["created", "updated", "status", "removed"]
"""What happened: a new market, other fields changed, its lifecycle status changed (the
secmaster's sync or a MarketStatus event on the bus), or the venue no longer lists it."""
RefStatus = Literal["unopened", "open", "paused", "closed", "determined", "settled"]
"""Lifecycle status; ``unopened`` = listed, not trading yet (the md contract has no such
state, since nothing trades before it opens)."""
MarketKind = Literal["binary", "perpetual", "fixed_maturity", "index", "other"]
CHANGES: Final[tuple[Change, ...]] = ("created", "updated", "status", "removed")


class OutcomeToken(msgspec.Struct, frozen=True, kw_only=True):
    """One outcome token of a market (Polymarket: its YES and NO token ids)."""

    token_id: str
    outcome: str
    is_yes: bool


class ReferenceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One market after one committed secmaster change; see module doc."""

    change: Change
    market: MarketId
    venue: Venue
    symbol: Annotated[str, msgspec.Meta(description="The venue's own symbol, exactly.")]
    kind: MarketKind
    status: RefStatus
    result: str | None = None
    title: str | None = None
    event: Annotated[
        str | None, msgspec.Meta(description="Venue event id (Kalshi event ticker, ...).")
    ] = None
    series: str | None = None
    category: str | None = None
    tokens: list[OutcomeToken] = msgspec.field(default_factory=list)
    tick_size: str | None = None
    contract_size: str | None = None
    open_ts_ns: TimestampNs | None = None
    close_ts_ns: TimestampNs | None = None
    expiry_ts_ns: TimestampNs | None = None
    version: Annotated[int, msgspec.Meta(ge=1, description="Per market, +1 per change.")]
    outbox_id: Annotated[int, msgspec.Meta(ge=1, description="Position in commit order.")]
    ts_ns: Annotated[TimestampNs, msgspec.Meta(description="Commit time (Unix, ns).")]

    def __post_init__(self) -> None:
        if not self.market.startswith(f"{self.venue}:"):
            raise ValueError(f"market {self.market!r} does not belong to venue {self.venue!r}")


_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(ReferenceRecord)


def encode_reference(record: ReferenceRecord) -> bytes:
    return _ENCODER.encode(record)


def decode_reference(data: bytes) -> ReferenceRecord:
    """Decode and validate one record; `ContractError` names what is wrong."""
    try:
        return _DECODER.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise ContractError(f"bad reference record: {exc}") from exc


def reference_msg_id(outbox_id: int) -> str:
    """The ``Nats-Msg-Id`` of the record of outbox row `outbox_id` (stable across re-sends)."""
    return f"sm-{outbox_id}"
