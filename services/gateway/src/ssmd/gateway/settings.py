"""`GatewaySettings`: where the gateway listens, what it reads, and how much it keeps.

Read from ``SSMD_GATEWAY_*`` environment variables or the ``[gateway]`` table of the
settings file; NATS comes from `ssmd.bus.BusSettings` (``SSMD_BUS_*``) and the env token,
admin port and drain timeout from `RuntimeSettings` (``SSMD_RUNTIME_*``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from ssmd.core.settings import SsmdSettings, VenueNames


class GatewaySettings(SsmdSettings):
    """The HTTP API's listener, the archive it reads and the bounds of its live tail."""

    section = "gateway"

    host: str = Field(
        "127.0.0.1",
        description=(
            "Interface the HTTP API binds. Default loopback (a laptop); the image sets "
            "0.0.0.0 so the Kubernetes Service can reach it."
        ),
    )
    port: int = Field(
        8080,
        ge=0,
        le=65535,
        description="HTTP API TCP port; 0 picks a free port (tests). Default 8080.",
    )
    archive_dir: Path = Field(
        Path(".ssmd/archive"),
        description=(
            "Root of the Parquet archive written by ssmd-archiver "
            "(venue=/channel=/date=/hour= below it); must be the archiver's archive dir. "
            "Default .ssmd/archive, where `ssmd up` keeps it."
        ),
    )
    venues: VenueNames = Field(
        ("kraken_futures", "kalshi", "polymarket"),
        min_length=1,
        description=(
            "Venues served, comma separated. A query for another venue is a 400, and the "
            "gateway tails MD_<ENV>_<VENUE> of each. Default: the three first venues."
        ),
    )
    tail_window_s: float = Field(
        120.0,
        gt=0,
        description=(
            "Seconds back from start-up that the JetStream tail begins, and how long it "
            "keeps trades in memory. It covers what the archiver has not flushed yet, so "
            "it must exceed the archiver's flush interval plus its write time. Default "
            "120 s: twice a 60 s flush interval."
        ),
    )
    tail_max_trades: int = Field(
        1_000_000,
        gt=0,
        description=(
            "Most trades (all markets) held from the tail; past it the oldest go first. "
            "Bounds memory (~300 bytes each, so ~300 MB at the default of 1,000,000, "
            "about 2 minutes of 8,000 trades/s)."
        ),
    )
    feeds_max_entries: int = Field(
        50_000,
        gt=0,
        description=(
            "Most (venue, channel, market) rows /v1/feeds tracks; the least recently "
            "updated is dropped past it. Bounds memory (~1.5 kB a row). Default 50,000."
        ),
    )
    default_limit: int = Field(
        1_000,
        gt=0,
        description="Trades returned when a request gives no limit. Default 1,000.",
    )
    max_limit: int = Field(
        10_000,
        gt=0,
        description=(
            "Largest limit a request may ask for; more is a 400. Bounds the memory and "
            "time of one answer (10,000 trades are ~1.5 MB of JSON). Default 10,000."
        ),
    )
    max_range_s: float = Field(
        31 * 86_400.0,
        gt=0,
        description=(
            "Longest end - start a request may span, in seconds; longer is a 400. Reads "
            "stop once limit trades are found, but a sparse market over a long range still "
            "lists every hour partition of it. Default 31 days."
        ),
    )
    query_timeout_s: float = Field(
        10.0,
        gt=0,
        description=(
            "Seconds one archive query may run before it is interrupted and answered 504. "
            "Default 10 s: a market-hour takes milliseconds, so this only stops runaways."
        ),
    )
    query_workers: int = Field(
        4,
        gt=0,
        le=64,
        description=(
            "Archive queries run at once (threads, each with its own DuckDB cursor); more "
            "wait. Default 4: DuckDB parallelises each query over the cores itself."
        ),
    )

    @field_validator("max_limit")
    @classmethod
    def _max_not_below_default(cls, value: int, info: ValidationInfo) -> int:
        default = info.data.get("default_limit")
        if default is not None and value < default:
            raise ValueError(f"must be at least default_limit ({default})")
        return value
