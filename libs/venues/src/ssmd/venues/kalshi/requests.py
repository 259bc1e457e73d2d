"""The client's side of a Kalshi WebSocket session: commands, as structs and as frames.

Every command is ``{"id": n, "cmd": ..., "params": {...}}`` (shared/VENUES.md 1.3), a union
tagged by ``cmd``. `KalshiCommands` builds them for one connection with ids 1, 2, 3...; the
id comes back in the reply (``subscribed``, ``ok``, ``error``) and, for ``get_snapshot``, in
the ``orderbook_snapshot`` it triggers. `decode_command` reads a command frame (tests, tools).

Markets are always sent as ``market_tickers`` (a list, even of one). ``use_yes_price`` is not
offered: the parser's YES-leg normalization expects NO levels in NO prices.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

from ssmd.venues.errors import MalformedFrame
from ssmd.venues.kalshi import config
from ssmd.venues.kalshi.wire import CommandId, Sid

UPDATE_ACTIONS: Final = frozenset({config.ADD_MARKETS, config.DELETE_MARKETS, config.GET_SNAPSHOT})


class _Command(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="cmd"):
    """A client command; ``cmd`` names it."""

    id: CommandId = 0


class SubscribeParams(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``market_ticker`` or ``market_tickers`` (or ids, ticker channel only) filter markets."""

    channels: list[str]
    market_ticker: str | None = None
    market_tickers: list[str] | None = None
    market_id: str | None = None
    market_ids: list[str] | None = None
    send_initial_snapshot: bool | None = None
    skip_ticker_ack: bool | None = None
    use_yes_price: bool | None = None
    user_filter: str | None = None
    shard_factor: int | None = None
    shard_key: int | None = None


class SubscribeCmd(_Command, frozen=True, kw_only=True, tag="subscribe"):
    """One ``subscribed`` reply (one sid) per channel."""

    params: SubscribeParams


class UnsubscribeParams(msgspec.Struct, frozen=True, kw_only=True):
    sids: list[Sid]


class UnsubscribeCmd(_Command, frozen=True, kw_only=True, tag="unsubscribe"):
    """One ``unsubscribed`` reply per sid."""

    params: UnsubscribeParams


class UpdateSubscriptionParams(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Exactly one sid (``sid`` or a one-element ``sids``); ``action`` in UPDATE_ACTIONS."""

    action: str
    sid: Sid | None = None
    sids: list[Sid] | None = None
    market_ticker: str | None = None
    market_tickers: list[str] | None = None
    market_id: str | None = None
    market_ids: list[str] | None = None


class UpdateSubscriptionCmd(_Command, frozen=True, kw_only=True, tag="update_subscription"):
    """``ok`` with the full market list; ``get_snapshot`` answers with snapshots instead."""

    params: UpdateSubscriptionParams


class ListSubscriptionsCmd(_Command, frozen=True, kw_only=True, tag="list_subscriptions"):
    """No params; ``ok`` with ``[{channel, sid}]``."""


Command = SubscribeCmd | UnsubscribeCmd | UpdateSubscriptionCmd | ListSubscriptionsCmd
_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final[msgspec.json.Decoder[Command]] = msgspec.json.Decoder(Command)


def decode_command(frame: bytes | str) -> Command:
    """Decode a client command frame; `MalformedFrame` (naming the field) if it is not one."""
    try:
        return _DECODER.decode(frame)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: first
        reason = f"not a Kalshi command: {exc}"
    except msgspec.DecodeError as exc:
        reason = f"not JSON: {exc}"
    raise MalformedFrame(frame.encode() if isinstance(frame, str) else bytes(frame), reason)


def _tickers(market_tickers: Iterable[str]) -> list[str]:
    tickers = list(market_tickers)
    if not tickers:
        raise ValueError("market_tickers is empty (pass None for no market filter)")
    return tickers


class KalshiCommands:
    """Command frames of one connection, with ids increasing from `first_id`."""

    __slots__ = ("_next_id",)

    def __init__(self, first_id: int = 1) -> None:
        if first_id < 1:
            raise ValueError(f"first_id must be >= 1 (0 means no id), got {first_id}")
        self._next_id = first_id

    @property
    def next_id(self) -> int:
        """The id the next command will get."""
        return self._next_id

    def _frame(self, command: Command) -> tuple[int, bytes]:
        return command.id, _ENCODER.encode(command)

    def _take_id(self) -> int:
        command_id = self._next_id
        self._next_id += 1
        return command_id

    def subscribe(
        self,
        channels: Iterable[str],
        market_tickers: Iterable[str] | None = None,
        *,
        send_initial_snapshot: bool | None = None,
    ) -> tuple[int, bytes]:
        """Subscribe to `channels` for `market_tickers` (None: no market filter)."""
        names = list(channels)
        if not names:
            raise ValueError("channels is empty")
        params = SubscribeParams(
            channels=names,
            market_tickers=None if market_tickers is None else _tickers(market_tickers),
            send_initial_snapshot=send_initial_snapshot,
        )
        return self._frame(SubscribeCmd(id=self._take_id(), params=params))

    def unsubscribe(self, sids: Iterable[int]) -> tuple[int, bytes]:
        """End the subscriptions `sids`."""
        ids = list(sids)
        if not ids:
            raise ValueError("sids is empty")
        return self._frame(UnsubscribeCmd(id=self._take_id(), params=UnsubscribeParams(sids=ids)))

    def update_subscription(
        self, sid: int, action: str, market_tickers: Iterable[str]
    ) -> tuple[int, bytes]:
        """Add or delete markets of subscription `sid`, or ask for their snapshots."""
        if action not in UPDATE_ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {sorted(UPDATE_ACTIONS)}")
        params = UpdateSubscriptionParams(
            action=action, sids=[sid], market_tickers=_tickers(market_tickers)
        )
        return self._frame(UpdateSubscriptionCmd(id=self._take_id(), params=params))

    def get_snapshot(self, sid: int, market_tickers: Iterable[str]) -> tuple[int, bytes]:
        """Fresh ``orderbook_snapshot``s of `market_tickers` on `sid` (they carry the id)."""
        return self.update_subscription(sid, config.GET_SNAPSHOT, market_tickers)

    def list_subscriptions(self) -> tuple[int, bytes]:
        """The connection's subscriptions, as ``ok`` with ``[{channel, sid}]``."""
        return self._frame(ListSubscriptionsCmd(id=self._take_id()))
