"""Kalshi WebSocket frames as the simulator sends them (K-ASYNC-04, 2026-04 examples).

A data frame is ``{"type":T,"sid":S,"seq":Q,"msg":{...}}`` (``ticker`` has no ``seq``). The
``msg`` body of a market event is built once (`delta_body`, `trade_body`, `ticker_body`,
`snapshot_body`, lifecycle bodies) and each subscription splices it into its own envelope
with `Envelope` (per-sid templates filled with ``%``), so a frame costs one bytes format
per subscriber. Control replies (``subscribed``, ``ok``, ``unsubscribed``, ``error``) are
rare and encoded from wire structs whose fields are named and ordered as on the wire.

Prices are ``_dollars`` strings with 4 decimals, counts ``_fp`` strings with 2 (counts are
kept as integer hundredths of a contract, prices as integer cents).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Final

import msgspec

_ENCODER: Final = msgspec.json.Encoder()
_CENTS: Final = 100
_COUNT_CACHE_MAX: Final = 1 << 16

PRICE_TEXT: Final = tuple(f"{c // _CENTS}.{c % _CENTS:02d}00" for c in range(_CENTS + 1))
"""``_dollars`` text of 0..100 cents: ``0.0000`` .. ``1.0000``."""
PRICE_BYTES: Final = tuple(text.encode() for text in PRICE_TEXT)

COUNT_CACHE: Final[dict[int, tuple[str, bytes]]] = {}
"""`count_text` results by count (read directly on the hot path, filled by `count_text`)."""


def count_text(hundredths: int) -> tuple[str, bytes]:
    """``_fp`` text (and bytes) of a signed count in hundredths: -5400 -> ``-54.00``."""
    found = COUNT_CACHE.get(hundredths)
    if found is None:
        whole, frac = divmod(abs(hundredths), _CENTS)
        text = f"{'-' if hundredths < 0 else ''}{whole}.{frac:02d}"
        if len(COUNT_CACHE) >= _COUNT_CACHE_MAX:
            COUNT_CACHE.clear()
        found = COUNT_CACHE[hundredths] = (text, text.encode())
    return found


class SecondsText:
    """RFC 3339 text of a whole second, cached for the current second (``ts`` fields)."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = b""

    def __call__(self, ts_ms: int) -> bytes:
        second = ts_ms // 1000
        if second != self._second:
            moment = datetime.fromtimestamp(second, tz=UTC)
            self._text = moment.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
            self._second = second
        return self._text


# -- market event bodies (the hot path) ---------------------------------------------------
_DELTA_TAIL: Final = b'"price_dollars":"%b","delta_fp":"%b","side":"%b","ts":"%b","ts_ms":%d}'
_TRADE: Final = (
    b'{"trade_id":"%b","market_ticker":"%b","yes_price_dollars":"%b","no_price_dollars":"%b",'
    b'"count_fp":"%b","taker_side":"%b","taker_outcome_side":"%b","taker_book_side":"%b",'
    b'"is_block_trade":false,"ts":%d,"ts_ms":%d}'
)
_TICKER: Final = (
    b'{"market_id":"%b","market_ticker":"%b","price_dollars":"%b","yes_bid_dollars":"%b",'
    b'"yes_ask_dollars":"%b","volume_fp":"%b","open_interest_fp":"%b","dollar_volume":%d,'
    b'"dollar_open_interest":%d,"yes_bid_size_fp":"%b","yes_ask_size_fp":"%b",'
    b'"last_trade_size_fp":"%b","ts":%d,"ts_ms":%d,"time":"%b"}'
)


def delta_template(ticker: bytes, market_id: bytes) -> bytes:
    """A market's ``orderbook_delta`` msg template; fill with ``% (price, delta_fp, side,
    ts, ts_ms)``, each but ``ts_ms`` in wire bytes (``b"0.5600"``, ``b"-12.00"``, ``b"no"``)."""
    head = b'{"market_ticker":"' + ticker + b'","market_id":"' + market_id + b'",'
    return head.replace(b"%", b"%%") + _DELTA_TAIL


def trade_body(
    *,
    trade_id: bytes,
    ticker: bytes,
    yes_cents: int,
    count: bytes,
    taker_yes: bool,
    ts_ms: int,
) -> bytes:
    """``trade`` msg; the taker bought YES (`taker_yes`) or bought NO."""
    side = b"yes" if taker_yes else b"no"
    return _TRADE % (
        trade_id,
        ticker,
        PRICE_BYTES[yes_cents],
        PRICE_BYTES[_CENTS - yes_cents],
        count,
        side,
        side,
        b"bid" if taker_yes else b"ask",
        ts_ms // 1000,
        ts_ms,
    )


def ticker_body(
    *,
    market_id: bytes,
    ticker: bytes,
    last_cents: int,
    bid_cents: int,
    ask_cents: int,
    volume: int,
    open_interest: int,
    dollar_volume: int,
    dollar_open_interest: int,
    bid_size: int,
    ask_size: int,
    last_size: int,
    ts_ms: int,
    ts_text: bytes,
) -> bytes:
    """``ticker`` msg; counts in hundredths, prices in cents (0 when a side is empty)."""
    return _TICKER % (
        market_id,
        ticker,
        PRICE_BYTES[last_cents],
        PRICE_BYTES[bid_cents],
        PRICE_BYTES[ask_cents],
        count_text(volume)[1],
        count_text(open_interest)[1],
        dollar_volume,
        dollar_open_interest,
        count_text(bid_size)[1],
        count_text(ask_size)[1],
        count_text(last_size)[1],
        ts_ms // 1000,
        ts_ms,
        ts_text,
    )


class SnapshotMsg(msgspec.Struct, frozen=True, omit_defaults=True):
    """``orderbook_snapshot`` msg: bids only, ascending; a side absent when empty."""

    market_ticker: str
    market_id: str
    yes_dollars_fp: list[tuple[str, str]] | None = None
    no_dollars_fp: list[tuple[str, str]] | None = None


def snapshot_body(
    ticker: str, market_id: str, yes: list[tuple[str, str]], no: list[tuple[str, str]]
) -> bytes:
    return _ENCODER.encode(SnapshotMsg(ticker, market_id, yes or None, no or None))


# -- envelopes ---------------------------------------------------------------------------
class Envelope:
    """One subscription's envelope templates: its sid is fixed, seq and msg are spliced."""

    __slots__ = ("_prefix", "_sequenced", "_unsequenced")

    def __init__(self, sid: int) -> None:
        self._prefix = b',"sid":' + str(sid).encode()
        self._sequenced: dict[str, bytes] = {}
        self._unsequenced: dict[str, bytes] = {}

    def sequenced(self, msg_type: str) -> bytes:
        """``{"type":T,"sid":S,"seq":%d,"msg":%b}`` for this sid."""
        found = self._sequenced.get(msg_type)
        if found is None:
            found = b'{"type":"' + msg_type.encode() + b'"' + self._prefix
            found = self._sequenced[msg_type] = found + b',"seq":%d,"msg":%b}'
        return found

    def unsequenced(self, msg_type: str) -> bytes:
        """``{"type":T,"sid":S,"msg":%b}`` for this sid (``ticker``)."""
        found = self._unsequenced.get(msg_type)
        if found is None:
            found = b'{"type":"' + msg_type.encode() + b'"' + self._prefix + b',"msg":%b}'
            self._unsequenced[msg_type] = found
        return found

    def snapshot_reply(self, seq: int, command_id: int, body: bytes) -> bytes:
        """The ``orderbook_snapshot`` that answers ``get_snapshot`` (carries the command id)."""
        head = b'{"type":"orderbook_snapshot"' + self._prefix
        return head + b',"seq":%d,"id":%d,"msg":%b}' % (seq, command_id, body)


# -- control replies -----------------------------------------------------------------------
class ChannelSid(msgspec.Struct, frozen=True):
    channel: str
    sid: int


class SubscribedReply(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    type: str = "subscribed"
    msg: ChannelSid


class UnsubscribedReply(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    sid: int
    seq: int
    type: str = "unsubscribed"


class MarketTickers(msgspec.Struct, frozen=True):
    market_tickers: list[str]


class UpdateOkReply(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    sid: int
    seq: int
    type: str = "ok"
    msg: MarketTickers


class ListOkReply(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    type: str = "ok"
    msg: list[ChannelSid]


class ErrorMsg(msgspec.Struct, frozen=True, omit_defaults=True):
    code: int
    msg: str
    market_ticker: str | None = None
    market_tickers: list[str] | None = None


class ErrorReply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    id: int
    sid: int | None = None
    type: str  # no default: omit_defaults would drop it
    msg: ErrorMsg


def encode(message: msgspec.Struct) -> bytes:
    """JSON bytes of any wire struct."""
    return _ENCODER.encode(message)


def error(
    command_id: int,
    code: int,
    text: str,
    *,
    sid: int | None = None,
    market_tickers: list[str] | None = None,
) -> bytes:
    """An ``error`` reply; an unknown market is named in ``market_ticker(s)``."""
    single = market_tickers[0] if market_tickers and len(market_tickers) == 1 else None
    several = market_tickers if market_tickers and len(market_tickers) > 1 else None
    return encode(
        ErrorReply(id=command_id, sid=sid, type="error", msg=ErrorMsg(code, text, single, several))
    )


# -- malformed frames (fault injection) ------------------------------------------------------
def malformed(rng: random.Random, ticker: str, sid: int, seq: int) -> bytes:
    """A frame a Kalshi parser must reject, as if on subscription `sid` at `seq`.

    Cut JSON, an ``orderbook_delta`` without ``price_dollars``, one whose ``delta_fp`` is a
    number, a ``trade`` without ``trade_id``, or not JSON at all. Always valid UTF-8.
    """
    head = b'{"type":"%s","sid":%d,"seq":%d,"msg":{"market_ticker":"%s"'
    name = ticker.encode()
    variants = (
        head % (b"orderbook_delta", sid, seq, name) + b',"price_dol',
        head % (b"orderbook_delta", sid, seq, name)
        + b',"delta_fp":"1.00","side":"yes","ts_ms":0}}',
        head % (b"orderbook_delta", sid, seq, name)
        + b',"price_dollars":"0.5000","delta_fp":1,"side":"yes","ts_ms":0}}',
        head
        % (b"trade", sid, seq, name)
        + b',"yes_price_dollars":"0.5000","no_price_dollars":"0.5000","count_fp":"1.00",'
        b'"taker_side":"yes","ts_ms":0}}',
        b"{not json",
    )
    return variants[rng.randrange(len(variants))]
