"""The Kraken Futures WebSocket v1 session, server side (``/ws/v1``).

On connect the server sends ``{"event":"info","version":1}``. Requests and answers:

* ``subscribe`` a product feed (``book``, ``trade``, ``ticker``, ``ticker_lite``) with
  ``product_ids`` (any case): one ``subscribed`` ack per product, upper case, then the feed's
  first frame (``book_snapshot``, ``trade_snapshot``, the latest ticker) and its stream.
  Subscribing again re-acks and re-sends the snapshot (how a client re-syncs after a gap).
* ``subscribe`` ``heartbeat`` (no product ids): ack, then ``{"feed":"heartbeat","time":ms}``.
* ``unsubscribe``: one ``unsubscribed`` per product, ``unsubscribed_failed`` for a product
  that was not subscribed.
* Errors: a request that is not JSON, not an object, of an unknown ``event``, or without
  ``product_ids`` -> ``{"event":"error","message":"Json Error"}``; an unknown product ->
  ``"Invalid product id"`` (one per product; the others are still served); an unknown
  feed -> ``"Invalid feed"``; a private feed -> ``subscribed_failed`` (no accounts here).
* ``challenge`` with an ``api_key`` -> ``{"event":"challenge","message":<uuid>}``.

WebSocket pings are answered by the server (autoping). A client silent for longer than
``client_idle_timeout_s`` is disconnected, as the venue does after 60 s.
"""

from __future__ import annotations

import logging
import uuid
from typing import Final

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from ssmd.simulator.connection import Connection
from ssmd.simulator.kraken_futures import frames
from ssmd.simulator.kraken_futures.exchange import KrakenFuturesExchange
from ssmd.simulator.ledger import Record
from ssmd.venues.kraken_futures.config import (
    ERROR_INVALID_FEED,
    ERROR_INVALID_PRODUCT,
    ERROR_JSON,
    HEARTBEAT,
    PRIVATE_FEEDS,
    PRODUCT_FEEDS,
)
from ssmd.venues.kraken_futures.wire import ChallengeMsg, SubscribeRequest, UnsubscribeRequest

log = logging.getLogger(__name__)

EXCHANGE_KEY: Final = web.AppKey("kraken_futures_exchange", KrakenFuturesExchange)
_REQUEST_DECODER: Final[
    msgspec.json.Decoder[SubscribeRequest | UnsubscribeRequest | ChallengeMsg]
] = msgspec.json.Decoder(SubscribeRequest | UnsubscribeRequest | ChallengeMsg)
_MAX_REQUEST_BYTES: Final = 64 * 1024


def _control(
    frame: bytes, event: str, product: str | None = None, detail: str | None = None
) -> tuple[bytes, Record]:
    return frame, Record("control", event, product, detail=detail)


def _error(message: str, product: str | None = None) -> tuple[bytes, Record]:
    return _control(frames.error(message), "error", product, message)


def handle_request(exchange: KrakenFuturesExchange, conn: Connection, text: str | bytes) -> None:
    """Answer one client request; every answer goes through the connection's queue."""
    try:
        request = _REQUEST_DECODER.decode(text)
    except msgspec.DecodeError:  # also ValidationError: bad JSON, bad shape, unknown event
        exchange.send(conn, [_error(ERROR_JSON)])
        return
    if isinstance(request, ChallengeMsg):
        _challenge(exchange, conn, request)
        return
    subscribing = isinstance(request, SubscribeRequest)
    feed = request.feed
    if feed == HEARTBEAT:
        _heartbeat(exchange, conn, subscribing=subscribing)
    elif feed in PRIVATE_FEEDS:
        if subscribing:
            frame, event = (
                frames.subscribed_failed(feed, "Authentication required"),
                "subscribed_failed",
            )
        else:
            frame, event = frames.unsubscribed_failed(feed, None), "unsubscribed_failed"
        exchange.send(conn, [_control(frame, event, detail=feed)])
    elif feed not in PRODUCT_FEEDS:
        exchange.send(conn, [_error(ERROR_INVALID_FEED)])
    elif not request.product_ids:
        exchange.send(conn, [_error(ERROR_JSON)])
    else:
        for requested in request.product_ids:
            _product_request(exchange, conn, feed, requested.upper(), subscribing=subscribing)


def _challenge(exchange: KrakenFuturesExchange, conn: Connection, request: ChallengeMsg) -> None:
    if not request.api_key:
        exchange.send(conn, [_error(ERROR_JSON)])
        return
    challenge = str(uuid.uuid4())
    answer = frames.encode(ChallengeMsg(message=challenge))
    exchange.send(conn, [_control(answer, "challenge", detail=challenge)])


def _product_request(
    exchange: KrakenFuturesExchange, conn: Connection, feed: str, product: str, *, subscribing: bool
) -> None:
    if product not in exchange.product_ids:
        exchange.send(conn, [_error(ERROR_INVALID_PRODUCT, product)])
    elif subscribing:
        exchange.send(conn, exchange.subscribe(conn, feed, product))
    elif exchange.unsubscribe(conn, feed, product):
        answer = frames.unsubscribed(feed, product)
        exchange.send(conn, [_control(answer, "unsubscribed", product, feed)])
    else:
        failed = frames.unsubscribed_failed(feed, product)
        exchange.send(conn, [_control(failed, "unsubscribed_failed", product, feed)])


def _heartbeat(exchange: KrakenFuturesExchange, conn: Connection, *, subscribing: bool) -> None:
    if subscribing:
        exchange.send(conn, exchange.subscribe(conn, HEARTBEAT, ""))
    elif exchange.unsubscribe(conn, HEARTBEAT, ""):
        exchange.send(
            conn, [_control(frames.unsubscribed(HEARTBEAT, None), "unsubscribed", detail=HEARTBEAT)]
        )
    else:
        failed = frames.unsubscribed_failed(HEARTBEAT, None)
        exchange.send(conn, [_control(failed, "unsubscribed_failed", detail=HEARTBEAT)])


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    """``GET /ws/v1``: one client session."""
    exchange = request.app[EXCHANGE_KEY]
    if exchange.at_capacity:
        raise web.HTTPServiceUnavailable(text="too many connections")
    idle_s = exchange.settings.client_idle_timeout_s
    ws = web.WebSocketResponse(
        autoping=True,
        compress=False,
        receive_timeout=idle_s or None,
        max_msg_size=_MAX_REQUEST_BYTES,
    )
    await ws.prepare(request)
    conn = exchange.open_connection(ws, request)
    conn.start_writer()
    exchange.send(conn, [_control(frames.INFO, "info")])
    log.info("client connected", extra={"connection": conn.id, "peer": request.remote})
    try:
        async for message in ws:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                handle_request(exchange, conn, message.data)
    except TimeoutError:
        log.info("closing idle client", extra={"connection": conn.id})
        await conn.close(WSCloseCode.POLICY_VIOLATION, b"no message for too long")
    finally:
        await exchange.close_connection(conn)
        log.info("client disconnected", extra={"connection": conn.id})
    return ws
