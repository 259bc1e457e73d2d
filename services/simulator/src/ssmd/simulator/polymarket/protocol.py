"""The Polymarket market channel, server side (``/ws/market``, no authentication).

Client frames (text):

* the first, ``{"assets_ids":[...],"type":"market","custom_feature_enabled":bool,
  "initial_dump":bool}`` (``type`` in any case), and later ones,
  ``{"assets_ids":[...],"operation":"subscribe"|"unsubscribe","custom_feature_enabled":
  bool}``. There is no ack. A subscribe sends, unless ``initial_dump`` is false (default
  true), one JSON array frame with a ``book`` message per newly subscribed asset, then the
  assets' stream. ``custom_feature_enabled``, where given, switches the custom-feature
  messages (``best_bid_ask``, ``new_market``, ``market_resolved``) on or off for the
  connection.
* ``PING`` -> text ``PONG``.

Unknown asset ids are left out (a ledger control entry each). More assets on one connection
than ``max_assets_per_connection`` closes the socket with 1008 (policy violation) and a
reason naming the cap, subscribing none of them. What the real venue answers to a frame
that is not JSON, not an object of this shape, or of another ``type``/``operation`` is
undocumented; the simulator ignores such frames (a ledger control entry says so) and keeps
the connection. WebSocket pings are answered (autoping); a client silent for longer than
``client_idle_timeout_s`` is closed (1008).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from ssmd.simulator.ledger import Record
from ssmd.simulator.polymarket import frames
from ssmd.venues.polymarket.config import PING, PONG, WS_MARKET_PATH

if TYPE_CHECKING:
    from ssmd.simulator.polymarket.exchange import PolymarketExchange, Subscriber

log = logging.getLogger(__name__)

_MAX_REQUEST_BYTES: Final = 1 << 20  # 500 asset ids take about 40 kB
_PING_TEXT: Final = PING.decode()
_MARKET_TYPE: Final = "market"
_SUBSCRIBE: Final = "subscribe"
_UNSUBSCRIBE: Final = "unsubscribe"


def handle_text(exchange: PolymarketExchange, sub: Subscriber, text: str) -> str | None:
    """Answer one client text frame; the reason to close the connection, or None."""
    conn = sub.conn
    if text == _PING_TEXT:
        exchange.send(conn, [(PONG, Record("control", "pong"))])
        return None
    try:
        request = frames.REQUEST_DECODER.decode(text)
    except msgspec.DecodeError as exc:  # also ValidationError: not this shape
        exchange.record_control(conn, "ignored_request", f"not a market subscription: {exc}")
        return None
    operation = (request.operation or "").lower()
    if operation == _UNSUBSCRIBE:
        exchange.unsubscribe(sub, request.assets_ids)
        return None
    if operation not in ("", _SUBSCRIBE) or (
        not operation and (request.type or "").lower() != _MARKET_TYPE
    ):
        detail = f"not a market subscription: type={request.type!r} operation={request.operation!r}"
        exchange.record_control(conn, "ignored_request", detail)
        return None
    if request.custom_feature_enabled is not None:
        sub.custom = request.custom_feature_enabled
    dump = True if request.initial_dump is None else request.initial_dump
    return exchange.subscribe(sub, request.assets_ids, initial_dump=dump)


class MarketChannel:
    """The ``/ws/market`` endpoint of one exchange."""

    def __init__(self, exchange: PolymarketExchange) -> None:
        self._exchange = exchange

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /ws/market``: one client session."""
        exchange = self._exchange
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
        sub = exchange.open_connection(ws, request)
        conn = sub.conn
        conn.start_writer()
        log.info("client connected", extra={"connection": conn.id, "peer": request.remote})
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    reason = handle_text(exchange, sub, message.data)
                    if reason is not None:
                        exchange.record_control(conn, "closed", reason)
                        await conn.close(WSCloseCode.POLICY_VIOLATION, reason.encode())
                        break
                elif message.type == WSMsgType.BINARY:
                    exchange.record_control(conn, "ignored_request", "binary frame")
        except TimeoutError:
            log.info("closing idle client", extra={"connection": conn.id})
            exchange.record_control(conn, "closed", "idle")
            await conn.close(WSCloseCode.POLICY_VIOLATION, b"no message for too long")
        finally:
            await exchange.close_connection(sub)
            log.info("client disconnected", extra={"connection": conn.id})
        return ws


def add_routes(app: web.Application, exchange: PolymarketExchange) -> None:
    app.router.add_get(WS_MARKET_PATH, MarketChannel(exchange).handle)
