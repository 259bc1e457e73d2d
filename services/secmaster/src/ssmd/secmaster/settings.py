"""`SecmasterSettings`: which venues to sync from where and how often, the lookup API, the
cache and the outbox relay.

Read from ``SSMD_SECMASTER_*`` (or ``[secmaster]`` in the settings file). PostgreSQL comes
from `ssmd.db.DbSettings` (``SSMD_DB_*``), NATS from `ssmd.bus.BusSettings`
(``SSMD_BUS_*``), the env token, admin port, logs and drain from ``SSMD_RUNTIME_*``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from ssmd.core.settings import SsmdSettings, VenueNames


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/") if value is not None else None


class SecmasterSettings(SsmdSettings):
    """Settings of the secmaster service."""

    section = "secmaster"

    venues: VenueNames = Field(
        ("kraken_futures", "kalshi", "polymarket"),
        min_length=1,
        description="Venues synced, comma separated. Default: all three.",
    )
    kalshi_rest_url: str | None = Field(
        None,
        description="Kalshi REST base (…/trade-api/v2). Default none: production.",
    )
    kraken_futures_rest_url: str | None = Field(
        None,
        description="Kraken Futures REST base (…/derivatives/api/v3). Default none: production.",
    )
    polymarket_clob_url: str | None = Field(
        None, description="Polymarket CLOB REST base. Default none: production."
    )
    polymarket_gamma_url: str | None = Field(
        None,
        description="Polymarket Gamma REST base (metadata: events, slugs). Default none: "
        "production.",
    )
    sync_interval_s: float = Field(
        300.0,
        gt=0,
        description="Seconds between scheduled syncs of each venue (a sync is also started by "
        "POST /v1/sync). Default 300 s; `ssmd up` uses a few seconds so new simulator "
        "markets appear fast.",
    )
    rest_timeout_s: float = Field(
        15.0, gt=0, description="Seconds one REST request may take. Default 15 s."
    )
    rest_requests_per_s: float = Field(
        10.0,
        gt=0,
        description="Most REST requests per second to one venue (token bucket); a 429 also "
        "backs off. Default 10/s, under every venue's public limit.",
    )
    rest_attempts: int = Field(
        5, ge=1, le=100, description="Attempts per REST page before a sync fails. Default 5."
    )
    host: str = Field(
        "127.0.0.1",
        description="Interface the lookup API binds. Default loopback; the image sets 0.0.0.0.",
    )
    port: int = Field(
        8930, ge=0, le=65535, description="Lookup API TCP port; 0 picks a free one. Default 8930."
    )
    cache_url: SecretStr | None = Field(
        None,
        description="Valkey/Redis URL of the lookup cache (redis://host:port/db); may hold a "
        "password, so it is masked. Default none: no cache, every lookup reads Postgres.",
    )
    cache_ttl_s: float = Field(
        3600.0,
        gt=0,
        description="Seconds a cached lookup lives at most (changes invalidate it sooner). "
        "Default 1 h.",
    )
    relay_batch: int = Field(
        500,
        ge=1,
        le=100_000,
        description="Outbox rows the relay publishes per round. Default 500.",
    )
    relay_idle_s: float = Field(
        0.2,
        gt=0,
        description="Seconds the relay waits for new outbox rows when it found none "
        "(a commit also wakes it through LISTEN/NOTIFY). Default 0.2 s.",
    )
    follow_status_events: bool = Field(
        True,
        description="Record MarketStatus events of the md streams (MD_<ENV>_<VENUE>) as "
        "lifecycle changes. Default true.",
    )
    matcher_min_score: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Lowest score at which the symbology matcher proposes a cross-venue link. "
        "Default 0.6.",
    )

    @field_validator(
        "kalshi_rest_url", "kraken_futures_rest_url", "polymarket_clob_url", "polymarket_gamma_url"
    )
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return _http_url(value)
