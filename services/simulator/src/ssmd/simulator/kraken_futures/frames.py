"""Kraken Futures frames as the simulator sends them, byte for byte the venue's shapes.

Rare frames (snapshots, tickers, acks) are the `ssmd.venues` wire structs encoded by
msgspec. The two hot ones (``book`` and ``trade``, most of the traffic) are filled into a
byte template that produces exactly what encoding `BookMsg`/`TradeMsg` would (a test holds
the two equal); numbers are printed as JSON numbers from exact decimal text.
"""

from __future__ import annotations

from typing import Final

import msgspec

from ssmd.venues.kraken_futures.wire import (
    BookLevel,
    BookSnapshotMsg,
    ErrorMsg,
    HeartbeatMsg,
    InfoMsg,
    SubscribedFailedMsg,
    SubscribedMsg,
    TradeMsg,
    TradeSnapshotMsg,
    UnsubscribedFailedMsg,
    UnsubscribedMsg,
)

_ENCODER: Final = msgspec.json.Encoder()
_BOOK_TEMPLATE: Final = (
    b'{"feed":"book","product_id":"%s","side":"%s","seq":%d,"price":%s,"qty":%s,"timestamp":%d}'
)
_TRADE_TEMPLATE: Final = (
    b'{"feed":"trade","product_id":"%s","uid":"%s","side":"%s","type":"%s","seq":%d,'
    b'"time":%d,"qty":%s,"price":%s}'
)


def encode(message: msgspec.Struct) -> bytes:
    """JSON bytes of any wire struct."""
    return _ENCODER.encode(message)


def raw(text: str) -> msgspec.Raw:
    """A JSON number from its decimal text."""
    return msgspec.Raw(text.encode())


def book(*, product: bytes, side: bytes, seq: int, price: bytes, qty: bytes, ts_ms: int) -> bytes:
    """A ``book`` delta; arguments already in wire bytes (``b"buy"``, ``b"34981.5"``)."""
    return _BOOK_TEMPLATE % (product, side, seq, price, qty, ts_ms)


def trade(
    *, product: bytes, uid: bytes, side: bytes, seq: int, ts_ms: int, qty: bytes, price: bytes
) -> bytes:
    """A ``trade``; arguments already in wire bytes."""
    return _TRADE_TEMPLATE % (product, uid, side, b"fill", seq, ts_ms, qty, price)


def book_snapshot(
    product: str,
    seq: int,
    ts_ms: int,
    bids: list[tuple[str, str]],
    asks: list[tuple[str, str]],
) -> bytes:
    """A ``book_snapshot``: (price, qty) texts best first, ``tickSize`` null as on the venue."""
    return encode(
        BookSnapshotMsg(
            product_id=product,
            timestamp=ts_ms,
            seq=seq,
            bids=[BookLevel(raw(p), raw(q)) for p, q in bids],
            asks=[BookLevel(raw(p), raw(q)) for p, q in asks],
        )
    )


def trade_snapshot(product: str, trades: list[TradeMsg]) -> bytes:
    """A ``trade_snapshot``; `trades` newest first, as the venue lists them."""
    return encode(TradeSnapshotMsg(product_id=product, trades=trades))


def heartbeat(ts_ms: int) -> bytes:
    return encode(HeartbeatMsg(time=ts_ms))


INFO: Final = encode(InfoMsg(version=1))


def subscribed(feed: str, product: str | None) -> bytes:
    return encode(SubscribedMsg(feed=feed, product_ids=None if product is None else [product]))


def subscribed_failed(feed: str, message: str) -> bytes:
    return encode(SubscribedFailedMsg(feed=feed, message=message))


def unsubscribed(feed: str, product: str | None) -> bytes:
    return encode(UnsubscribedMsg(feed=feed, product_ids=None if product is None else [product]))


def unsubscribed_failed(feed: str, product: str | None) -> bytes:
    ids = None if product is None else [product]
    return encode(UnsubscribedFailedMsg(feed=feed, product_ids=ids))


def error(message: str) -> bytes:
    return encode(ErrorMsg(message=message))
