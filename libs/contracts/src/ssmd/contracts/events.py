"""Canonical market events: the one model of every message on the ``md.*`` subjects.

Events are frozen msgspec structs in a union tagged by the JSON field ``type``. Every event
carries its venue, canonical market id (``<venue>:<venue symbol>``), venue time and local
receive time in integer nanoseconds, and the venue sequence where the venue has one.
Prices, sizes and rates are decimal strings in plain notation, never floats, so no value is
rounded between the venue and the OMS; binary-contract prices are probabilities in [0, 1].

`encode_event` / `decode_event` are the hot path (cached encoder and decoder); decoding
validates types and field constraints and raises `ContractError` on any bad payload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Final, Literal

import msgspec

# Python's `$` also matches before a trailing newline; `(?!\n)` closes that gap and is a
# no-op in ECMA-262, the regex dialect of the exported JSON Schemas.
SignedDecimal = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^-?[0-9]+(?:\.[0-9]+)?$(?!\n)",
        description="Decimal number as a string in plain notation (no exponent), e.g. '-0.0001'.",
    ),
]
# Prices may be negative (calendar spreads on future venues); sizes never are.
Price = SignedDecimal
Size = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]+(?:\.[0-9]+)?$(?!\n)",
        description="Non-negative decimal number as a string in plain notation, e.g. '12.5'.",
    ),
]
Venue = Annotated[
    str,
    msgspec.Meta(pattern=r"^[a-z0-9_]+$(?!\n)", description="Venue name, e.g. 'kalshi'."),
]
MarketId = Annotated[
    str,
    msgspec.Meta(
        description="Canonical market id '<venue>:<venue symbol>', the venue's exact spelling."
    ),
]
TimestampNs = Annotated[int, msgspec.Meta(ge=0, description="Unix time in nanoseconds.")]
Side = Literal["buy", "sell"]
BookSide = Literal["bid", "ask"]
Status = Literal["open", "paused", "closed", "determined", "settled"]


class ContractError(ValueError):
    """A payload does not satisfy the wire contract (malformed JSON, missing or bad field)."""


class EventBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields common to every canonical market event."""

    venue: Venue
    market: MarketId
    ts_event_ns: Annotated[TimestampNs, msgspec.Meta(description="Venue time (Unix, ns).")]
    ts_recv_ns: Annotated[TimestampNs, msgspec.Meta(description="Local receive time (Unix, ns).")]
    seq: Annotated[
        int | None,
        msgspec.Meta(description="Venue sequence number, where the venue has one."),
    ] = None

    def __post_init__(self) -> None:
        # Runs on construction and on decode, so a mismatched market id never travels.
        if not self.market.startswith(f"{self.venue}:"):
            raise ValueError(f"market {self.market!r} does not belong to venue {self.venue!r}")


class Trade(EventBase, frozen=True, kw_only=True, tag="trade"):
    """One execution."""

    price: Price
    size: Size
    side: Annotated[Side | None, msgspec.Meta(description="Taker side, if known.")] = None
    trade_id: str | None = None


class Quote(EventBase, frozen=True, kw_only=True, tag="quote"):
    """Top of book and last price (a venue ticker); a missing side is null."""

    bid_price: Price | None = None
    bid_size: Size | None = None
    ask_price: Price | None = None
    ask_size: Size | None = None
    last_price: Price | None = None


class PriceLevel(msgspec.Struct, frozen=True, array_like=True):
    """One book level, encoded as the pair ``[price, size]``."""

    price: Price
    size: Size


class BookSnapshot(EventBase, frozen=True, kw_only=True, tag="book_snapshot"):
    """The full book; replaces any earlier state. Levels are best first."""

    bids: list[PriceLevel]
    asks: list[PriceLevel]


class LevelChange(msgspec.Struct, frozen=True, kw_only=True):
    """A new size at one price; size '0' removes the level."""

    side: BookSide
    price: Price
    size: Size


class BookDelta(EventBase, frozen=True, kw_only=True, tag="book_delta"):
    """Changes to apply, in order, to the book built from the last snapshot."""

    changes: list[LevelChange]


class MarketStatus(EventBase, frozen=True, kw_only=True, tag="market_status"):
    """A market lifecycle change; `result` is set once the market is determined or settled."""

    status: Status
    result: str | None = None


class FundingRate(EventBase, frozen=True, kw_only=True, tag="funding_rate"):
    """A perpetual's funding rate."""

    rate: SignedDecimal
    relative_rate: SignedDecimal | None = None
    next_funding_ts_ns: TimestampNs | None = None


class Gap(EventBase, frozen=True, kw_only=True, tag="gap"):
    """Data was lost (sequence gap, reconnect): consumers must not assume continuity."""

    channel: Annotated[str, msgspec.Meta(description="The feed that lost data, e.g. 'book'.")]
    reason: str
    expected_seq: int | None = None
    received_seq: int | None = None


MarketEvent = Trade | Quote | BookSnapshot | BookDelta | MarketStatus | FundingRate | Gap

CHANNEL_OF: Final[Mapping[type[EventBase], str]] = MappingProxyType(
    {
        Trade: "trade",
        Quote: "quote",
        BookSnapshot: "book",
        BookDelta: "book",
        MarketStatus: "status",
        FundingRate: "funding",
        Gap: "gap",
    }
)
# Snapshots and deltas share "book" so one ordered subject carries the whole book stream.
MD_CHANNELS: Final[tuple[str, ...]] = tuple(dict.fromkeys(CHANNEL_OF.values()))

_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final[msgspec.json.Decoder[MarketEvent]] = msgspec.json.Decoder(MarketEvent)


def encode_event(event: MarketEvent) -> bytes:
    """JSON bytes of `event`, as published on its ``md.*`` subject."""
    return _ENCODER.encode(event)


def decode_event(data: bytes | bytearray | memoryview) -> MarketEvent:
    """Decode and validate one event; raise ContractError saying what is wrong."""
    try:
        return _DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise ContractError(f"invalid market event: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ContractError(f"malformed market event JSON: {exc}") from exc


def channel_of(event: MarketEvent) -> str:
    """The subject channel token of `event` (``trade``, ``book``, ...)."""
    return CHANNEL_OF[type(event)]


def event_msg_id(event: MarketEvent) -> str:
    """The ``Nats-Msg-Id`` of `event`: the same for every receipt of the same venue data.

    A SHA-256 (first 128 bits, hex) of the event's JSON with ``ts_recv_ns`` zeroed: receive
    time is the only field that differs when a reconnect or a restarted connector sees the
    same venue message again. The venue sequence, where present, is part of the content, so
    a sequence that restarts after reconnect yields new ids rather than dropping data.
    """
    canonical = msgspec.structs.replace(event, ts_recv_ns=0)
    return hashlib.sha256(_ENCODER.encode(canonical)).hexdigest()[:32]
