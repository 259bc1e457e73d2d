"""The Kalshi Trade API WebSocket v2 session, server side (``/trade-api/ws/v2``).

The upgrade is authenticated first (`ssmd.simulator.kalshi.auth`; a refusal is HTTP 401).
Then every client frame is a command ``{"id", "cmd", "params"}`` (VENUES.md 1.3):

* ``subscribe`` ``channels`` (+ ``market_ticker``/``market_tickers``,
  ``send_initial_snapshot``): one ``subscribed`` reply per channel with a new sid, then the
  channel's first frames (an ``orderbook_snapshot`` per market; with
  ``send_initial_snapshot`` a ``ticker`` per market). Nothing is subscribed if any part of
  the command is refused.
* ``unsubscribe`` ``sids``: an ``unsubscribed`` reply per sid (sequenced).
* ``update_subscription`` one sid (``sid`` or ``sids:[n]``), ``action`` ``add_markets`` |
  ``delete_markets`` | ``get_snapshot``: ``ok`` with the full market list after the change
  (sequenced), or ``orderbook_snapshot`` frames that carry the command id.
* ``list_subscriptions``: ``ok`` with ``[{channel, sid}]``.

Errors are ``{"id","type":"error","msg":{"code","msg"}}`` (+ ``sid`` when they concern one
subscription, + ``market_ticker(s)`` naming unknown markets); codes are K-ASYNC-04's (see
`ssmd.venues.kalshi.config.ERROR_CODES`). Commands beyond the connection's rate get 27.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from ssmd.simulator.connection import Outgoing
from ssmd.simulator.kalshi import frames
from ssmd.simulator.kalshi.subscriptions import Session, Subscription
from ssmd.simulator.ledger import Record
from ssmd.venues.kalshi.config import (
    ADD_MARKETS,
    DELETE_MARKETS,
    ERROR_CODES,
    GET_SNAPSHOT,
    LIST_SUBSCRIPTIONS,
    MARKET_CHANNELS,
    MARKET_LIMIT,
    ORDERBOOK,
    PRIVATE_CHANNELS,
    PUBLIC_CHANNELS,
    RATE_LIMITED,
    SUBSCRIBE,
    UNSUBSCRIBE,
    UPDATE_SUBSCRIPTION,
)

if TYPE_CHECKING:
    from ssmd.simulator.kalshi.exchange import KalshiExchange

log = logging.getLogger(__name__)

_MAX_COMMAND_BYTES: Final = 1 << 20
_ACTIONS: Final = (ADD_MARKETS, DELETE_MARKETS, GET_SNAPSHOT)
_PARAMS_COMMANDS: Final = (SUBSCRIBE, UNSUBSCRIBE, UPDATE_SUBSCRIPTION)


class CommandError(Exception):
    """A command refused with a Kalshi error code."""

    def __init__(
        self,
        code: int,
        text: str | None = None,
        *,
        sid: int | None = None,
        tickers: list[str] | None = None,
    ) -> None:
        super().__init__(text or ERROR_CODES[code])
        self.code = code
        self.text = text or ERROR_CODES[code]
        self.sid = sid
        self.tickers = tickers


def _control(frame: bytes, reply: str, detail: str, seq: int | None = None) -> Outgoing:
    return frame, Record("control", reply, None, seq, detail=detail)


def _error_reply(command_id: int, error: CommandError) -> Outgoing:
    frame = frames.error(
        command_id, error.code, error.text, sid=error.sid, market_tickers=error.tickers
    )
    product = error.tickers[0] if error.tickers else None
    return frame, Record("control", "error", product, detail=str(error.code))


class CommandHandler:
    """Answers one connection's commands; every answer goes through its send queue."""

    def __init__(self, exchange: KalshiExchange, session: Session) -> None:
        self._exchange = exchange
        self._session = session

    def handle(self, text: str | bytes) -> None:
        exchange = self._exchange
        try:
            command: Any = msgspec.json.decode(text)
        except msgspec.DecodeError:
            command = None
        raw_id = command.get("id") if isinstance(command, dict) else None
        command_id = raw_id if type(raw_id) is int else 0
        if not self._session.bucket.take(exchange.clock.monotonic_ns()):
            exchange.send(self._session, [_error_reply(command_id, CommandError(RATE_LIMITED))])
            return
        try:
            items = self._dispatch(command, raw_id, command_id)
        except CommandError as error:
            items = [_error_reply(command_id, error)]
        exchange.send(self._session, items)

    def _dispatch(self, command: Any, raw_id: object, command_id: int) -> list[Outgoing]:
        if not isinstance(command, dict) or (raw_id is not None and type(raw_id) is not int):
            raise CommandError(1)
        cmd = command.get("cmd")
        if not isinstance(cmd, str):
            raise CommandError(1, "Unable to process message: 'cmd' missing")
        params = command.get("params")
        if cmd == LIST_SUBSCRIPTIONS:
            return self._list(command_id)
        if cmd not in _PARAMS_COMMANDS:
            raise CommandError(5, f"Unknown command: {cmd[:64]}")
        if params is None:
            raise CommandError(2)
        if not isinstance(params, dict):
            raise CommandError(11, "Invalid parameter: params must be an object")
        if cmd == SUBSCRIBE:
            return self._subscribe(command_id, params)
        if cmd == UNSUBSCRIBE:
            return self._unsubscribe(command_id, params)
        return self._update(command_id, params)

    # -- parameters ----------------------------------------------------------------------
    def _tickers(self, params: dict[str, Any], sid: int | None = None) -> list[str] | None:
        """The markets named by ``market_ticker``/``market_tickers``; None if none."""
        single, several = params.get("market_ticker"), params.get("market_tickers")
        tickers: list[str] = []
        if single is not None:
            if not isinstance(single, str):
                raise CommandError(11, "Invalid parameter: market_ticker", sid=sid)
            tickers.append(single)
        if several is not None:
            if not isinstance(several, list) or not all(isinstance(t, str) for t in several):
                raise CommandError(11, "Invalid parameter: market_tickers", sid=sid)
            tickers.extend(several)
        tickers = list(dict.fromkeys(tickers))
        unknown = [t for t in tickers if not self._exchange.is_served(t)]
        if unknown:
            raise CommandError(
                11,
                f"Invalid parameter: unknown market ticker {', '.join(unknown[:10])}",
                sid=sid,
                tickers=unknown,
            )
        return tickers or None

    def _check_cap(self, count: int, sid: int | None = None) -> None:
        cap = self._exchange.settings.subscription_market_cap
        if count > cap:
            raise CommandError(
                MARKET_LIMIT,
                f"Subscription market limit exceeded: {count} markets, at most {cap}",
                sid=sid,
            )

    # -- commands ------------------------------------------------------------------------
    def _subscribe(self, command_id: int, params: dict[str, Any]) -> list[Outgoing]:
        channels = params.get("channels")
        if channels is None or channels == []:
            raise CommandError(3)
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise CommandError(11, "Invalid parameter: channels")
        for channel in channels:
            if channel not in PUBLIC_CHANNELS and channel not in PRIVATE_CHANNELS:
                raise CommandError(8, f"Unknown channel name: {channel[:64]}")
            if channel in PRIVATE_CHANNELS and not self._session.signed:
                raise CommandError(9, f"Authentication required: {channel}")
        tickers = self._tickers(params)
        if tickers is None and ORDERBOOK in channels:
            raise CommandError(14)
        if tickers is not None and MARKET_CHANNELS.intersection(channels):
            self._check_cap(len(tickers))
        initial_tickers = params.get("send_initial_snapshot") is True
        exchange, items = self._exchange, []
        for channel in dict.fromkeys(channels):
            markets = tickers if channel in MARKET_CHANNELS else None
            sub = self._session.new_subscription(channel, markets)
            exchange.add_subscription(sub)
            reply = frames.SubscribedReply(id=command_id, msg=frames.ChannelSid(channel, sub.sid))
            items.append(_control(frames.encode(reply), "subscribed", SUBSCRIBE))
            items.extend(exchange.initial_frames(sub, markets, with_ticker=initial_tickers))
        return items

    def _unsubscribe(self, command_id: int, params: dict[str, Any]) -> list[Outgoing]:
        sids = params.get("sids")
        if sids is None or sids == []:
            raise CommandError(4)
        if not isinstance(sids, list) or not all(type(s) is int for s in sids):
            raise CommandError(11, "Invalid parameter: sids")
        items = []
        for sid in dict.fromkeys(sids):
            sub = self._session.subs.pop(sid, None)
            if sub is None:
                items.append(_error_reply(command_id, CommandError(7)))
                continue
            self._exchange.remove_subscription(sub)
            seq = sub.next_seq()
            reply = frames.UnsubscribedReply(id=command_id, sid=sid, seq=seq)
            items.append(_control(frames.encode(reply), "unsubscribed", UNSUBSCRIBE, seq))
        return items

    def _target(self, params: dict[str, Any]) -> Subscription:
        sid, sids = params.get("sid"), params.get("sids")
        if sid is None and (sids is None or sids == []):
            raise CommandError(4)
        if sids is not None:
            if not isinstance(sids, list) or not all(type(s) is int for s in sids):
                raise CommandError(11, "Invalid parameter: sids")
            if len(sids) > 1 or (sid is not None and sids and sids != [sid]):
                raise CommandError(12)
            sid = sids[0] if sids else sid
        if type(sid) is not int:
            raise CommandError(11, "Invalid parameter: sid")
        sub = self._session.subs.get(sid)
        if sub is None:
            raise CommandError(7)
        return sub

    def _update(self, command_id: int, params: dict[str, Any]) -> list[Outgoing]:
        sub = self._target(params)
        action = params.get("action")
        if action is None:
            raise CommandError(15, sid=sub.sid)
        if action not in _ACTIONS:
            raise CommandError(13, f"Unsupported action: {str(action)[:64]}", sid=sub.sid)
        tickers = self._tickers(params, sub.sid)
        if action == GET_SNAPSHOT:
            return self._get_snapshot(command_id, sub, tickers)
        if tickers is None:
            raise CommandError(14, sid=sub.sid)
        if sub.markets is None or sub.channel not in MARKET_CHANNELS:
            raise CommandError(
                13,
                f"Unsupported action: {action} on a {sub.channel} subscription of all markets",
                sid=sub.sid,
            )
        exchange = self._exchange
        new: list[str] = []
        if action == ADD_MARKETS:
            self._check_cap(len(set(sub.markets).union(tickers)), sub.sid)
            new = exchange.add_markets(sub, tickers)
        else:
            exchange.delete_markets(sub, tickers)
        seq = sub.next_seq()
        reply = frames.UpdateOkReply(
            id=command_id, sid=sub.sid, seq=seq, msg=frames.MarketTickers(list(sub.markets))
        )
        items = [_control(frames.encode(reply), "ok", UPDATE_SUBSCRIPTION, seq)]
        items.extend(exchange.initial_frames(sub, new, with_ticker=False))
        return items

    def _get_snapshot(
        self, command_id: int, sub: Subscription, tickers: list[str] | None
    ) -> list[Outgoing]:
        if sub.channel != ORDERBOOK:
            raise CommandError(
                13, f"Unsupported action: get_snapshot on {sub.channel}", sid=sub.sid
            )
        assert sub.markets is not None  # order book subscriptions always list their markets
        wanted = tickers if tickers is not None else list(sub.markets)
        outside = [t for t in wanted if t not in sub.markets]
        if outside:
            raise CommandError(
                11,
                f"Invalid parameter: market not in the subscription: {', '.join(outside[:10])}",
                sid=sub.sid,
                tickers=outside,
            )
        return self._exchange.snapshot_frames(sub, wanted, command_id)

    def _list(self, command_id: int) -> list[Outgoing]:
        listed = [frames.ChannelSid(s.channel, s.sid) for s in self._session.subs.values()]
        reply = frames.ListOkReply(id=command_id, msg=listed)
        return [_control(frames.encode(reply), "ok", LIST_SUBSCRIPTIONS)]


async def websocket_handler(exchange: KalshiExchange, request: web.Request) -> web.StreamResponse:
    """``GET /trade-api/ws/v2``: authenticate the upgrade, then one client session."""
    if exchange.at_capacity:
        raise web.HTTPServiceUnavailable(text="too many connections")
    outcome = exchange.verifier.check(
        request.headers, request.method, request.path, exchange.clock.now_ns()
    )
    if outcome.refusal is not None:
        exchange.record_auth_refusal(outcome.refusal)
        return web.Response(status=401, body=outcome.error_body(), content_type="application/json")
    idle_s = exchange.settings.client_idle_timeout_s
    ws = web.WebSocketResponse(
        autoping=True,
        compress=False,
        receive_timeout=idle_s or None,
        max_msg_size=_MAX_COMMAND_BYTES,
    )
    await ws.prepare(request)
    session = exchange.open_session(ws, request, signed=outcome.signed)
    handler = CommandHandler(exchange, session)
    conn_id = session.conn.id
    log.info("client connected", extra={"connection": conn_id, "signed": outcome.signed})
    try:
        async for message in ws:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                handler.handle(message.data)
    except TimeoutError:
        log.info("closing idle client", extra={"connection": conn_id})
        await session.conn.close(WSCloseCode.POLICY_VIOLATION, b"no message for too long")
    finally:
        await exchange.close_session(session)
        log.info("client disconnected", extra={"connection": conn_id})
    return ws
