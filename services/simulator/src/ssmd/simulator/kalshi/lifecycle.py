"""Market lifecycle: the status machine and its ``market_lifecycle_v2`` messages.

Statuses as REST prints them (K-DOCS/market_lifecycle): ``initialized -> active <->
inactive -> closed -> determined -> finalized``. Each action moves one market one step and
yields the message the venue sends on ``market_lifecycle_v2`` (VENUES.md 1.7):

* ``create``: a new market, ``created`` (open/close times, ``additional_metadata``); a
  new event also gets an ``event_lifecycle`` message first;
* ``pause``: ``deactivated`` (``is_deactivated: true``); ``open``: ``activated``;
* ``close``: ``close_date_updated`` with ``close_ts`` = now;
* ``determine``: ``determined`` with ``result``, ``settlement_value``, ``determination_ts``;
* ``settle``: ``settled`` with ``settled_ts``.

`LifecycleDriver` carries the actions out on the exchange (messages to every lifecycle
subscription, trading on or off, a settled market out of every subscription); its `walk`
is the automatic walk: one random listed market one step (`walk_action`), a settled one
replaced by a new market so that the count stays constant.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Final

import msgspec

from ssmd.simulator.kalshi.catalog import NS_PER_S, EventInfo, MarketInfo, series_info
from ssmd.simulator.kalshi.fanout import deliver_sequenced
from ssmd.simulator.kalshi.markets import MarketEvent
from ssmd.simulator.kalshi.symbols import normalize_markets
from ssmd.simulator.venue import LifecycleAction
from ssmd.venues.kalshi.config import LIFECYCLE

if TYPE_CHECKING:
    from ssmd.simulator.kalshi.exchange import KalshiExchange

MARKET_LIFECYCLE: Final = "market_lifecycle_v2"
EVENT_LIFECYCLE: Final = "event_lifecycle"
TRADING: Final = frozenset({"active"})
LISTED: Final = frozenset({"initialized", "active", "inactive", "closed", "determined"})
"""Statuses of markets still served on the WebSocket (finalized ones leave it)."""
RESULTS: Final = frozenset({"yes", "no"})
_PAUSE_SHARE: Final = 0.3

# action -> (statuses it applies to, status after, event_type sent)
_TRANSITIONS: Final[dict[str, tuple[frozenset[str], str, str]]] = {
    "pause": (frozenset({"active"}), "inactive", "deactivated"),
    "open": (frozenset({"initialized", "inactive"}), "active", "activated"),
    "close": (frozenset({"active", "inactive"}), "closed", "close_date_updated"),
    "determine": (frozenset({"closed"}), "determined", "determined"),
    "settle": (frozenset({"determined"}), "finalized", "settled"),
}


class AdditionalMetadata(msgspec.Struct, frozen=True, omit_defaults=True):
    name: str
    title: str
    yes_sub_title: str
    no_sub_title: str
    rules_primary: str
    rules_secondary: str
    can_close_early: bool
    event_ticker: str
    expected_expiration_ts: int
    strike_type: str
    floor_strike: msgspec.Raw | None = None
    cap_strike: msgspec.Raw | None = None


class LifecycleMsg(msgspec.Struct, frozen=True, omit_defaults=True):
    """``market_lifecycle_v2`` msg: the keys of the event's kind only."""

    market_ticker: str
    event_type: str
    open_ts: int | None = None
    close_ts: int | None = None
    additional_metadata: AdditionalMetadata | None = None
    is_deactivated: bool | None = None
    result: str | None = None
    settlement_value: str | None = None
    determination_ts: int | None = None
    settled_ts: int | None = None
    price_level_structure: str | None = None


class EventLifecycleMsg(msgspec.Struct, frozen=True):
    """``event_lifecycle`` msg (an event was created)."""

    event_ticker: str
    title: str
    subtitle: str
    collateral_return_type: str
    series_ticker: str


_ENCODER: Final = msgspec.json.Encoder()


def _raw(text: str | None) -> msgspec.Raw | None:
    return None if text is None else msgspec.Raw(text.encode())


def _event(msg: LifecycleMsg) -> MarketEvent:
    return (MARKET_LIFECYCLE, _ENCODER.encode(msg), None, None, None, msg.event_type)


def created(info: MarketInfo, series_title: str) -> MarketEvent:
    """The ``created`` message of a newly listed market."""
    metadata = AdditionalMetadata(
        name=series_title,
        title=info.title,
        yes_sub_title=info.yes_sub_title,
        no_sub_title=info.no_sub_title,
        rules_primary=info.rules_primary,
        rules_secondary="",
        can_close_early=True,
        event_ticker=info.event_ticker,
        expected_expiration_ts=info.expected_expiration_ns // NS_PER_S,
        strike_type=info.strike_type,
        floor_strike=_raw(info.floor_strike),
        cap_strike=_raw(info.cap_strike),
    )
    return _event(
        LifecycleMsg(
            market_ticker=info.ticker,
            event_type="created",
            open_ts=info.open_ns // NS_PER_S,
            close_ts=info.close_ns // NS_PER_S,
            additional_metadata=metadata,
            price_level_structure="linear_cent",
        )
    )


def event_created(event: EventInfo) -> MarketEvent:
    """The ``event_lifecycle`` message of a new event."""
    msg = EventLifecycleMsg(
        event_ticker=event.event_ticker,
        title=event.title,
        subtitle=event.sub_title,
        collateral_return_type="MECNET" if event.mutually_exclusive else "",
        series_ticker=event.series_ticker,
    )
    return (EVENT_LIFECYCLE, _ENCODER.encode(msg), None, None, None, "created")


def transition(
    info: MarketInfo, action: LifecycleAction, now_ns: int, result: str | None = None
) -> MarketEvent:
    """Move `info` one step by `action` at `now_ns`; its message (ValueError if it cannot)."""
    if action == "create":
        raise ValueError(f"market {info.ticker} exists already")
    sources, status, event_type = _TRANSITIONS[action]
    if info.status not in sources:
        raise ValueError(
            f"market {info.ticker} is {info.status}; {action} needs {' or '.join(sorted(sources))}"
        )
    if action == "determine":
        result = result or "yes"
        if result not in RESULTS:
            raise ValueError(f"result must be yes or no, not {result!r}")
    now_s = now_ns // NS_PER_S
    info.status = status
    info.updated_ns = now_ns
    msg = LifecycleMsg(market_ticker=info.ticker, event_type=event_type)
    if action == "pause":
        msg = LifecycleMsg(info.ticker, event_type, is_deactivated=True)
    elif action == "open":
        msg = LifecycleMsg(info.ticker, event_type, is_deactivated=False)
    elif action == "close":
        info.close_ns = now_ns
        msg = LifecycleMsg(info.ticker, event_type, close_ts=now_s)
    elif action == "determine":
        assert result is not None
        info.result, info.determination_ns = result, now_ns
        msg = LifecycleMsg(
            info.ticker,
            event_type,
            result=result,
            settlement_value=info.settlement_value,
            determination_ts=now_s,
        )
    elif action == "settle":
        info.settled_ns = now_ns
        msg = LifecycleMsg(info.ticker, event_type, settled_ts=now_s)
    return _event(msg)


def walk_action(status: str, rng: random.Random) -> LifecycleAction:
    """The automatic walk's next action for a market in `status` (not finalized)."""
    if status == "active":
        return "pause" if rng.random() < _PAUSE_SHARE else "close"
    if status in ("inactive", "initialized"):
        return "open"
    if status == "closed":
        return "determine"
    return "settle"


class LifecycleDriver:
    """Carries lifecycle actions out on the exchange: messages, trading, subscriptions."""

    def __init__(self, exchange: KalshiExchange) -> None:
        self._exchange = exchange
        self._rng = random.Random(f"lifecycle:{exchange.settings.seed}")
        self._created = 0

    def apply(
        self, ticker: str, action: LifecycleAction, result: str | None, now_ns: int
    ) -> dict[str, object]:
        """Move market `ticker` one step by `action` (ValueError if it cannot)."""
        exchange = self._exchange
        subs = exchange.routes.all_of(LIFECYCLE)
        if action == "create":
            (ticker,) = normalize_markets([ticker])
            if ticker in exchange.markets:
                raise ValueError(f"market {ticker} exists already")
            listed, new_event = exchange.list_market(ticker, now_ns)
            if new_event is not None:
                deliver_sequenced(subs, new_event.event_ticker, event_created(new_event))
            series_title = series_info(listed.info.series_ticker).title
            deliver_sequenced(subs, ticker, created(listed.info, series_title))
            exchange.flow.set_trading(ticker, trading=True)
            return _answer(listed.info, action, "created")
        market = exchange.markets.get(ticker)
        if market is None:
            raise ValueError(f"no market {ticker}")
        event = transition(market.info, action, now_ns, result)
        deliver_sequenced(subs, ticker, event)
        exchange.flow.set_trading(ticker, trading=market.info.status in TRADING)
        if action == "settle":  # the market leaves every subscription
            exchange.routes.drop_market(ticker)
            exchange.flow.forget(ticker)
            exchange.markets_changed()
        return _answer(market.info, action, event[5] or "")

    def walk(self, now_ns: int) -> None:
        """One listed market one step; a settled one is replaced by a new market."""
        exchange, rng = self._exchange, self._rng
        listed = sorted(exchange.product_ids)
        if not listed:
            return
        info = exchange.markets[listed[rng.randrange(len(listed))]].info
        action = walk_action(info.status, rng)
        result = rng.choice(("yes", "no")) if action == "determine" else None
        self.apply(info.ticker, action, result, now_ns)
        if action == "settle":
            replacement = info.ticker
            while replacement in exchange.markets:
                self._created += 1
                replacement = f"{info.event_ticker}-T{self._created}"
            self.apply(replacement, "create", None, now_ns)


def _answer(info: MarketInfo, action: str, event_type: str) -> dict[str, object]:
    return {
        "product": info.ticker,
        "action": action,
        "status": info.status,
        "event_type": event_type,
    }
