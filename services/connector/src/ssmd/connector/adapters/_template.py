"""The template every venue adapter follows: its files, and each hook REQUIRED or OPTIONAL.

An adapter is a package ``ssmd.connector.adapters.<venue>`` with the same files as every
other adapter, so a reader who knows one knows where everything is in the next:

==============  ===========  ==========================================================
file            hook         what it holds
==============  ===========  ==========================================================
``config``      REQUIRED     venue name, default endpoints, feeds it can subscribe
``schemas``     REQUIRED     wire schemas; a re-export of ``ssmd.venues.<venue>.wire``
                             (the venue library owns them, shared with OMS and simulator)
``parse``       REQUIRED     frame -> canonical events + control message (`FrameParser`);
                             wraps ``ssmd.venues.<venue>.parse``, never re-implements it
``stream``      REQUIRED     one WebSocket session's protocol (`VenueStream`): subscribe
                             requests, control answers (`StreamActions`: requests,
                             gaps, markets to drop, restart), re-snapshot of one book,
                             OPTIONAL runtime add/drop of markets, keep-alive, timers
``rest``        OPTIONAL     market discovery from the venue's REST API
``provider``    OPTIONAL     which markets this shard owns (default: the contract's
                             ``shard_of`` over canonical market ids)
``adapter``     REQUIRED     the `VenueAdapter` subclass tying the hooks together
==============  ===========  ==========================================================

The generic machinery (``ssmd.connector.session``, ``pipeline``, ``books``, ``sequence``,
``publishing``) never branches on the venue: whatever differs between venues is one of the
hooks below. Abstract methods are REQUIRED; methods with a body are OPTIONAL defaults an
adapter may override.

Sessions: a connector shard runs one socket per `markets_per_socket` markets (venues cap
what one socket may carry), each with its own `VenueStream` and frame pipeline; markets
added at runtime go to a socket with room, or to a new one.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from ssmd.connector.sharding import owned_markets
from ssmd.contracts.events import MarketEvent
from ssmd.contracts.symbols import market_id
from ssmd.core.errors import ConfigError

if TYPE_CHECKING:
    import aiohttp

    from ssmd.connector.settings import ConnectorSettings


@dataclass(frozen=True, slots=True)
class GapNotice:
    """Data of `market` (canonical id) on `channel` was lost: publish a Gap.

    For channel ``book`` or ``all`` the connector's book of the market is also marked
    unsynced, so deltas are not applied until a snapshot arrives.
    """

    market: str
    channel: str
    reason: str
    expected_seq: int | None = None
    received_seq: int | None = None


@dataclass(slots=True)
class StreamActions:
    """What a `VenueStream` wants done after a control message or a timer tick."""

    requests: list[bytes] = field(default_factory=list)
    """Frames to send now, in order."""
    gaps: list[GapNotice] = field(default_factory=list)
    """Losses to publish as Gap events (before the frame's own events)."""
    drop: list[str] = field(default_factory=list)
    """Venue symbols this shard stops serving (settled markets, refused subscriptions)."""
    restart: str | None = None
    """Close the socket now and reconnect after the usual backoff; the reason is logged."""
    problem: str | None = None
    """Why the session cannot serve (bad credentials...): shown by /readyz until cleared."""

    def __bool__(self) -> bool:
        return bool(self.requests or self.gaps or self.drop or self.restart or self.problem)


class ParsedFrame(Protocol):
    """What a parser makes of one frame (``ssmd.venues`` parse results fit as they are)."""

    @property
    def events(self) -> list[MarketEvent]:
        """Canonical events of a data frame, in venue order (empty for control frames)."""
        ...

    @property
    def control(self) -> object | None:
        """The venue's control message (ack, error, heartbeat...), handed to `VenueStream`."""
        ...


class FrameParser(Protocol):
    """parse hook (REQUIRED): ``parser(frame, ts_recv_ns)``.

    Raises ``ssmd.venues.errors.MalformedFrame`` for a frame that cannot be understood; the
    pipeline dead-letters it and carries on. Called once per frame: keep it allocation-light.
    """

    def __call__(self, frame: bytes, ts_recv_ns: int) -> ParsedFrame: ...


class VenueStream(abc.ABC):
    """stream hook (REQUIRED): the venue protocol of one WebSocket session.

    A new instance is made for every (re)connection, so subscription state never leaks from
    a dead socket into its successor.
    """

    @abc.abstractmethod
    def subscribe_requests(self) -> list[bytes]:
        """REQUIRED. Text frames to send right after connecting (subscribe every feed)."""

    @abc.abstractmethod
    def on_control(self, control: object) -> StreamActions | None:
        """REQUIRED. Take note of a control message (acks, refusals, venue errors, alerts);
        return what must be done about it (None: nothing).

        It is called before the frame's events are published and applied, so a gap found
        here unsyncs the book before the frame's deltas reach it.
        """

    @abc.abstractmethod
    def resnapshot_requests(self, market: str) -> list[bytes]:
        """REQUIRED. Frames that make the venue send a fresh book snapshot of `market`.

        Sent after a sequence gap; until the snapshot arrives the book is not trusted.
        """

    @property
    @abc.abstractmethod
    def subscribed(self) -> bool:
        """REQUIRED. True once the venue confirmed the subscriptions (readiness)."""

    def subscription_state(self) -> str:
        """OPTIONAL. One line on subscription progress, shown by /readyz while not ready."""
        return "subscribed" if self.subscribed else "subscribing"

    def keepalive_request(self) -> bytes | None:
        """OPTIONAL. An application-level ping to send every ``ping_interval_s``.

        None (the default) when WebSocket ping frames keep the venue happy; those are
        always sent by the session.
        """
        return None

    def on_tick(self, now_ns: int) -> StreamActions | None:  # noqa: ARG002 - the hook's signature
        """OPTIONAL. Called a few times a second (wall clock `now_ns`): retries of refused
        or rate-limited requests, timeouts of unanswered ones. Default: nothing."""
        return None

    def add_markets(self, symbols: Sequence[str]) -> list[bytes] | None:  # noqa: ARG002
        """OPTIONAL. Requests that add `symbols` to this open session.

        None (the default) when the venue cannot change a subscription in place: the
        connector then restarts the socket, whose successor subscribes the new set.
        """
        return None

    def drop_markets(self, symbols: Sequence[str]) -> list[bytes] | None:  # noqa: ARG002
        """OPTIONAL. Requests that stop `symbols` on this open session (None: restart)."""
        return None


class VenueAdapter(abc.ABC):
    """The adapter of one venue: configuration and factories of its hooks."""

    venue: ClassVar[str]
    """config (REQUIRED): the venue's name token, as in market ids and subjects."""
    default_ws_url: ClassVar[str]
    """config (REQUIRED): the production WebSocket URL."""
    default_rest_url: ClassVar[str]
    """config (REQUIRED): the production REST base URL ('' if the venue has none)."""
    feeds: ClassVar[frozenset[str]]
    """config (REQUIRED): feed names a connector may subscribe (settings ``channels``)."""
    default_feeds: ClassVar[tuple[str, ...]]
    """config (REQUIRED): feeds subscribed when the ``channels`` setting is empty."""
    per_market_book_seq: ClassVar[bool] = True
    """config (OPTIONAL): the venue numbers each market's book updates 1, 2, 3... from its
    snapshot, so the generic sequence tracker can find gaps. False for venues whose sequence
    is per subscription (their stream hook must detect gaps itself)."""
    book_refresh_s: ClassVar[float] = 0.0
    """config (OPTIONAL): seconds in which every book is re-fetched once (0: never); for
    venues without sequence numbers, where only a fresh snapshot proves lost updates."""
    markets_per_socket: ClassVar[int | None] = None
    """config (OPTIONAL): most markets one socket may carry (None: no limit); the
    ``markets_per_socket`` setting may lower it."""

    def configure(self, settings: ConnectorSettings) -> None:  # noqa: ARG002 - the hook's signature
        """OPTIONAL. Read venue settings (credentials, metadata URLs) before anything runs;
        raise `ConfigError` naming the field when they are wrong."""
        return

    def connect_headers(self, ws_url: str) -> dict[str, str]:  # noqa: ARG002
        """OPTIONAL. HTTP headers of the WebSocket upgrade request (signed authentication),
        computed afresh for every connection attempt. Default: none."""
        return {}

    # -- config ---------------------------------------------------------------------------
    def check_channels(self, channels: Sequence[str]) -> None:
        """OPTIONAL. Raise `ConfigError` for a feed this venue does not have."""
        unknown = sorted(set(channels) - self.feeds)
        if unknown:
            raise ConfigError(
                f"{self.venue} has no feed(s) {unknown}; known: {sorted(self.feeds)}",
                fields=("channels",),
            )

    def symbol(self, symbol: str) -> str:
        """OPTIONAL. The venue's canonical spelling of a symbol (default: unchanged)."""
        return symbol

    def market_id(self, symbol: str) -> str:
        """OPTIONAL. The canonical market id ``<venue>:<symbol>`` of a venue symbol."""
        return market_id(self.venue, self.symbol(symbol))

    # -- parse ----------------------------------------------------------------------------
    @abc.abstractmethod
    def new_parser(self) -> FrameParser:
        """REQUIRED. A parser for one connection (it may keep caches)."""

    # -- stream ---------------------------------------------------------------------------
    @abc.abstractmethod
    def new_stream(self, symbols: Sequence[str], channels: Sequence[str]) -> VenueStream:
        """REQUIRED. The protocol state of one new session serving `symbols` on `channels`."""

    # -- rest -----------------------------------------------------------------------------
    async def discover_markets(
        self,
        http: aiohttp.ClientSession,  # noqa: ARG002 - the hook's signature
        rest_url: str,  # noqa: ARG002 - the hook's signature
        timeout_s: float,  # noqa: ARG002 - the hook's signature
    ) -> list[str]:
        """OPTIONAL. Every subscribable symbol the venue lists.

        The default says the venue cannot be asked: markets must be configured.
        """
        raise ConfigError(
            f"{self.venue} cannot discover markets; set SSMD_CONNECTOR_MARKETS",
            fields=("markets",),
        )

    async def prepare_markets(
        self,
        http: aiohttp.ClientSession,  # noqa: ARG002 - the hook's signature
        rest_url: str,  # noqa: ARG002 - the hook's signature
        symbols: Sequence[str],
        timeout_s: float,  # noqa: ARG002 - the hook's signature
    ) -> list[str]:
        """OPTIONAL. Look up what subscribing `symbols` needs (token ids...) before they
        are subscribed; return the symbols that can be served (default: all of them)."""
        return list(symbols)

    # -- provider -------------------------------------------------------------------------
    def owned_markets(self, symbols: Sequence[str], shards: int, shard: int) -> list[str]:
        """OPTIONAL. The symbols this shard serves (default: the contract's shard hash)."""
        return owned_markets(symbols, shards, shard, market_id_of=self.market_id)
