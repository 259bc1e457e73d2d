"""`SimulatorSettings`: what the simulator serves, how fast, and from which seed.

Read from ``SSMD_SIMULATOR_*`` (or ``[simulator]`` in the settings file). The admin port,
log format and drain timeout are the shared `RuntimeSettings` (``SSMD_RUNTIME_*``), as for
every service.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from ssmd.core.settings import SsmdSettings

SimulatedVenue = Literal["kraken_futures", "kalshi", "polymarket"]


class SimulatorSettings(SsmdSettings):
    """Settings of the venue simulator (one venue per process)."""

    section = "simulator"

    venue: SimulatedVenue = Field(
        "kraken_futures",
        description="Venue whose protocols are served: kraken_futures, kalshi or polymarket. "
        "Default kraken_futures.",
    )

    host: str = Field(
        "127.0.0.1",
        description="Interface the venue server (WebSocket, REST, control API) binds. "
        "Default loopback; 0.0.0.0 in a container.",
    )
    port: int = Field(
        8910,
        ge=0,
        le=65535,
        description="TCP port of the venue server; 0 picks a free port. Default 8910.",
    )
    markets: list[str] = Field(
        default_factory=list,
        max_length=100_000,
        description="Markets to simulate, in the venue's symbology. Kraken Futures: perpetuals "
        "PF_<BASE>USD / PI_<BASE>USD and fixed maturities FF_/FI_<BASE>USD_<yymmdd>; Kalshi: "
        "market tickers (SERIES-EVENT-STRIKE, [A-Z0-9.-]); Polymarket: market slugs "
        "([a-z0-9-], ids are derived from them). Default empty: the venue's default markets "
        "(ssmd.simulator.<venue>.symbols.DEFAULT_MARKETS).",
        validate_default=True,
    )
    events_per_s: float = Field(
        200.0,
        ge=0,
        le=1_000_000,
        description="Market events (book changes and trades) generated per second, over all "
        "markets together. Default 200/s; benchmarks use 100000.",
    )
    trade_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Expected share of trades among generated events in the calm regime "
        "(trades arrive as a Poisson process; bursts double the intensity). Default 0.1.",
    )
    step_s: float = Field(
        0.01,
        gt=0,
        le=1,
        description="Simulated seconds per generation step; events are generated and sent in "
        "one batch per step. Default 0.01 s (10 ms).",
    )
    max_catch_up_steps: int = Field(
        50,
        ge=1,
        le=10_000,
        description="Most steps generated at one wake-up when the loop fell behind; older "
        "backlog is skipped rather than sent in a burst. Default 50 (0.5 s at 10 ms steps).",
    )
    max_events_per_step: int = Field(
        20_000,
        ge=1,
        description="Upper bound on events generated in one step for all markets (keeps each "
        "step's work bounded whatever the rate). Default 20000.",
    )
    book_depth_levels: int = Field(
        25, ge=1, le=1000, description="Levels kept on each side of every book. Default 25."
    )
    trade_snapshot_size: int = Field(
        50,
        ge=0,
        le=1000,
        description="Recent trades sent in trade_snapshot on subscribe. Default 50.",
    )
    ticker_interval_s: float = Field(
        1.0,
        gt=0,
        description="Seconds between ticker and ticker_lite messages per product (the venue "
        "throttles tickers to one per second). Default 1 s.",
    )
    heartbeat_interval_s: float = Field(
        5.0,
        gt=0,
        description="Seconds between heartbeat feed messages. Default 5 s.",
    )
    volatility_annual: float = Field(
        0.6,
        ge=0,
        le=10,
        description="Annualised volatility of the calm regime's log-price random walk. "
        "Default 0.6 (60 %, crypto-like).",
    )
    burst_volatility_multiplier: float = Field(
        4.0,
        ge=1,
        le=100,
        description="Volatility multiplier while a market is in its burst regime. Default 4.",
    )
    burst_probability_per_s: float = Field(
        0.01,
        ge=0,
        le=10,
        description="Rate (per second) at which a calm market switches into a burst. "
        "Default 0.01 (about one burst every 100 s).",
    )
    burst_mean_duration_s: float = Field(
        20.0,
        gt=0,
        description="Mean duration of a burst in seconds (exponential). Default 20 s.",
    )
    seed: int = Field(
        1,
        description="Seed of every random choice: the same seed and settings give the same "
        "sequence of prices, sizes, sequence numbers and trade ids. Default 1.",
    )
    replay_path: Path | None = Field(
        None,
        description="Capture file to replay instead of synthetic data (cryptofeed format or "
        "ssmd JSONL). Default none: synthetic markets.",
    )
    replay_speed: float = Field(
        1.0,
        ge=0,
        description="Replay speed factor against the capture's timing; 0 sends as fast as "
        "the client reads. Default 1 (real time).",
    )
    replay_start_delay_s: float = Field(
        0.2,
        ge=0,
        le=60,
        description="Seconds between a connection's first subscribe and the start of its "
        "replay, so that its other subscribe requests arrive first. Default 0.2 s.",
    )
    ledger_max_entries: int = Field(
        1_000_000,
        ge=1,
        description="Entries the ledger of sent frames keeps (oldest dropped first, counted). "
        "Default 1000000 (about 200 MB at most).",
    )
    send_queue_max_batches: int = Field(
        10_000,
        ge=1,
        description="Batches queued per connection before it counts as a slow consumer and is "
        "disconnected, as a venue does. Default 10000 (100 s of 10 ms steps).",
    )
    client_idle_timeout_s: float = Field(
        60.0,
        ge=0,
        description="Close a connection that sent nothing (not even a ping) for this long, as "
        "the venue does after 60 s; 0 never closes. Default 60 s.",
    )
    max_connections: int = Field(
        1000, ge=1, description="WebSocket connections served at once. Default 1000."
    )
    lifecycle_interval_s: float = Field(
        0.0,
        ge=0,
        description="Kalshi and Polymarket: every this many seconds one market moves a step "
        "through its lifecycle (pause/resume, close, determine, settle) and a settled market "
        "is replaced by a newly created one. Default 0: only on request "
        "(POST /control/lifecycle).",
    )
    kalshi_public_key_path: Path | None = Field(
        None,
        description="Kalshi: PEM RSA public key that signed handshakes (KALSHI-ACCESS-* "
        "headers, RSA-PSS) are verified against; a bad signature gets HTTP 401. Default "
        "none: signatures are not verified (unsigned connections still get error 9 on "
        "private channels).",
    )
    kalshi_signature_max_age_s: float = Field(
        30.0,
        gt=0,
        description="Kalshi: a signed handshake whose KALSHI-ACCESS-TIMESTAMP is further than "
        "this from the simulator's clock is refused (HTTP 401, expired). Default 30 s.",
    )
    subscription_market_cap: int = Field(
        1000,
        ge=1,
        description="Kalshi: most markets one subscription may cover; a subscribe or "
        "add_markets beyond it gets error 26 (the real limit is unpublished). Default 1000.",
    )
    commands_per_s: float = Field(
        20.0,
        gt=0,
        description="Kalshi: commands per second one connection may send (token bucket, burst "
        "of the same size); beyond it a command gets error 27. Default 20/s.",
    )
    max_assets_per_connection: int = Field(
        500,
        ge=1,
        description="Polymarket: most asset (token) ids one market-channel connection may "
        "subscribe; more closes the socket with 1008 (policy violation). Default 500.",
    )

    @field_validator("replay_path")
    @classmethod
    def _replay_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no capture file at {value}")
        return value

    @field_validator("kalshi_public_key_path")
    @classmethod
    def _key_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no public key file at {value}")
        return value

    @field_validator("markets")
    @classmethod
    def _venue_markets(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """Markets in the venue's symbology (its `symbols` module), or its defaults."""
        venue = info.data.get("venue", "kraken_futures")
        symbols = importlib.import_module(f"ssmd.simulator.{venue}.symbols")
        if not value:
            return list(symbols.DEFAULT_MARKETS)
        normalized: list[str] = symbols.normalize_markets(value)
        if len(set(normalized)) != len(normalized):
            raise ValueError("a market is listed twice")
        return normalized
