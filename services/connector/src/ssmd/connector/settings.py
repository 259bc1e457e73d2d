"""`ConnectorSettings`: which venue, which markets, which shard, and how hard to hold on.

Read from ``SSMD_CONNECTOR_*`` (or ``[connector]`` in the settings file). NATS is reached
through the bus's own ``SSMD_BUS_*`` settings; the environment token, admin port, logs and
drain timeout are the shared ``SSMD_RUNTIME_*``, as for every service. List values
(``markets``, ``channels``) are JSON arrays in the environment, e.g.
``SSMD_CONNECTOR_MARKETS='["PF_XBTUSD","PF_ETHUSD"]'``, because venue symbols may contain
commas.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from ssmd.core.settings import SsmdSettings

_NAME_RE = re.compile(r"[a-z0-9_]+")


class ConnectorSettings(SsmdSettings):
    """Settings of one connector process (one shard of one venue)."""

    section = "connector"

    venue: str = Field(
        "kraken_futures",
        description="Venue adapter to run: kraken_futures, kalshi or polymarket. Default "
        "'kraken_futures'.",
    )
    ws_url: str | None = Field(
        None,
        description="Venue WebSocket URL (ws:// or wss://). Default none: the venue's public "
        "production endpoint; point it at the simulator for local runs.",
    )
    rest_url: str | None = Field(
        None,
        description="Base URL of the venue's public REST API (http:// or https://), used to "
        "discover markets. Default none: the venue's production endpoint.",
    )
    markets: list[str] = Field(
        default_factory=list,
        max_length=10_000,
        description="Venue symbols to serve, exactly as the venue spells them (JSON array). "
        "Default empty: every tradeable product the venue's REST API lists. Either way only "
        "the markets of this shard are subscribed.",
    )
    channels: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="Venue feeds to subscribe for every market (JSON array of the venue's feed "
        "names). Default empty: the venue's defaults - Kraken Futures trade, book, ticker; "
        "Kalshi trade, orderbook_delta, ticker, market_lifecycle_v2; Polymarket its one "
        "market channel.",
    )
    follow_secmaster: bool = Field(
        False,
        description="Serve the markets the secmaster lists, following its change stream "
        "(SECMASTER, ref.<venue>.>): a market that matches the select_* settings is added when "
        "it appears, dropped when it stops matching (closed, settled, delisted). Markets are "
        "then not discovered over REST; `markets`, if set, limits the selection to those "
        "symbols. Default false: serve `markets` (or every listed market) from start-up on.",
    )
    select_series: list[str] = Field(
        default_factory=list,
        max_length=10_000,
        description="With follow_secmaster: only markets of these series (Kalshi series "
        "tickers; Polymarket event ids), JSON array. Default empty: any series.",
    )
    select_categories: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="With follow_secmaster: only markets of these categories, JSON array. "
        "Default empty: any category.",
    )
    select_statuses: list[str] = Field(
        default_factory=lambda: ["open"],
        min_length=1,
        description="With follow_secmaster: lifecycle statuses worth a subscription (open, "
        "paused, unopened, closed, determined, settled), JSON array. Default open only: a "
        "market is dropped when it closes.",
    )
    markets_per_socket: int = Field(
        0,
        ge=0,
        le=100_000,
        description="Most markets one venue socket carries; more markets open more sockets. "
        "Default 0: the venue adapter's limit (Polymarket 100 markets = 200 tokens, well "
        "under its per-connection cap; Kraken Futures and Kalshi none).",
    )
    book_refresh_s: float | None = Field(
        None,
        ge=0,
        description="Seconds in which every book of a socket is re-fetched once, one market "
        "at a time; a fresh book that differs from the kept one is preceded by a Gap "
        "(snapshot_mismatch). 0 turns it off. Default none: the venue's need (Polymarket, "
        "which has no sequence numbers: 300 s; Kraken Futures and Kalshi: off).",
    )
    api_key_id: str | None = Field(
        None,
        description="Venue API key id for signed connections (Kalshi: KALSHI-ACCESS-KEY). "
        "Default none: unsigned, public data only.",
    )
    api_private_key_path: Path | None = Field(
        None,
        description="File holding the venue API private key (Kalshi: the RSA key in PEM, "
        "mounted from a Kubernetes Secret). Read at start, never logged. Default none.",
    )
    metadata_url: str | None = Field(
        None,
        description="Base URL of the venue's metadata API where it is separate from rest_url "
        "(Polymarket: Gamma). Default none: the venue's production endpoint.",
    )
    shards: int = Field(
        1,
        ge=1,
        le=4096,
        description="Number of connector shards the venue's markets are split across (the "
        "instance count). Default 1: one connector serves every market.",
    )
    shard: int = Field(
        0,
        ge=0,
        description="This instance's shard, 0 <= shard < shards: it serves the markets with "
        "shard_of(market_id, shards) == shard. Default 0.",
    )
    watchdog_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds without any frame after which the socket is presumed dead and "
        "restarted; also how long a book may wait for a re-snapshot. Default 30 s: the "
        "heartbeat and ticker feeds speak every few seconds on a healthy socket.",
    )
    reconnect_initial_s: float = Field(
        0.5,
        gt=0,
        description="Seconds before the first reconnect after a lost socket; later attempts "
        "back off exponentially with jitter. Default 0.5 s.",
    )
    reconnect_max_s: float = Field(
        30.0,
        gt=0,
        description="Cap, in seconds, of the reconnect backoff; reconnecting never stops. "
        "Default 30 s: a venue outage is not hammered, and recovery is noticed within 30 s.",
    )
    ping_interval_s: float = Field(
        20.0,
        gt=0,
        le=60,
        description="Seconds between WebSocket pings; a ping not answered within half this "
        "closes the socket. Default 20 s, well inside Kraken Futures' 60 s idle limit.",
    )
    publish_raw: bool = Field(
        True,
        description="Also publish every received frame, unchanged, to raw.<env>.<venue>.<shard> "
        "for audit and replay. Default true; false halves the messages per event.",
    )
    max_frame_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="Largest WebSocket message accepted, in bytes; a larger one fails the "
        "socket, which reconnects. Default 4 MiB: a deep book snapshot fits many times.",
    )
    rest_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Seconds one REST request (market discovery) may take. Default 10 s.",
    )
    rest_attempts: int = Field(
        5,
        ge=1,
        le=100,
        description="Attempts at market discovery (with backoff) before start-up fails and "
        "the pod is restarted. Default 5.",
    )
    provision_streams: bool = Field(
        True,
        description="Create or update the MD, RAW and DLQ streams at start. Default true; set "
        "false where the operator owns the streams.",
    )
    stream_max_age_s: float = Field(
        86_400.0,
        ge=0,
        description="Seconds the MD and RAW streams keep messages (0 = forever). Default 1 day: "
        "the archiver has a day to catch up before JetStream discards.",
    )
    duplicate_window_s: float = Field(
        120.0,
        gt=0,
        description="JetStream duplicate window of the streams, in seconds: a message with a "
        "Nats-Msg-Id seen within it is stored once. Default 2 min, longer than a reconnect.",
    )

    @field_validator("venue")
    @classmethod
    def _venue_token(cls, value: str) -> str:
        if _NAME_RE.fullmatch(value) is None:
            raise ValueError("must be lowercase letters, digits and '_'")
        return value

    @field_validator("ws_url")
    @classmethod
    def _ws_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value

    @field_validator("select_statuses")
    @classmethod
    def _known_statuses(cls, value: list[str]) -> list[str]:
        known = {"unopened", "open", "paused", "closed", "determined", "settled"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown statuses {unknown}; known: {sorted(known)}")
        return value

    @field_validator("api_private_key_path")
    @classmethod
    def _key_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no key file at {value}")
        return value

    @field_validator("rest_url", "metadata_url")
    @classmethod
    def _http_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value is not None else None

    @field_validator("markets", "channels")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if any(not item for item in value):
            raise ValueError("entries must not be empty")
        if len(set(value)) != len(value):
            raise ValueError("entries are listed twice")
        return value

    @field_validator("shard")
    @classmethod
    def _shard_in_range(cls, value: int, info: ValidationInfo) -> int:
        shards = info.data.get("shards")
        if shards is not None and value >= shards:
            raise ValueError(f"must be less than shards ({shards})")
        return value

    @field_validator("reconnect_max_s")
    @classmethod
    def _cap_not_below_first(cls, value: float, info: ValidationInfo) -> float:
        initial_s = info.data.get("reconnect_initial_s")
        if initial_s is not None and value < initial_s:
            raise ValueError(f"must be at least reconnect_initial_s ({initial_s})")
        return value
