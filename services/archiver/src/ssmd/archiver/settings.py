"""`ArchiverSettings`: where the archive lives, which streams feed it, how it batches.

Read from ``SSMD_ARCHIVER_*`` (or ``[archiver]`` in the settings file). The env token that
names the streams, the admin port and the drain timeout are the shared `RuntimeSettings`
(``SSMD_RUNTIME_*``); the NATS connection is `BusSettings` (``SSMD_BUS_*``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from ssmd.core.settings import SsmdSettings, VenueNames


class ArchiverSettings(SsmdSettings):
    """Settings of the archiver service."""

    section = "archiver"

    archive_dir: Path = Field(
        Path(".ssmd/archive"),
        description=(
            "Root directory of the dataset (venue=/channel=/date=/hour= below it) and of the "
            "archiver's commit manifests (_ssmd_archiver/). One directory per env. Default "
            "'.ssmd/archive', beside the rest of `ssmd up`'s local data; a volume in a pod."
        ),
    )
    venues: VenueNames = Field(
        ("kraken_futures",),
        min_length=1,
        description=(
            "Venues whose MD_<ENV>_<VENUE> (and RAW_<ENV>_<VENUE>) streams are archived, "
            "comma separated. Default 'kraken_futures', the venue the local mesh simulates."
        ),
    )
    include_raw: bool = Field(
        True,
        description=(
            "Also archive the raw venue frames of RAW_<ENV>_<VENUE> as JSON lines (audit and "
            "replay). Default true; false halves the archiver's work where raw is not kept."
        ),
    )
    flush_rows: int = Field(
        50_000,
        ge=1,
        le=1_000_000,
        description=(
            "Messages per flush (one commit: one file per event type and hour touched). "
            "Default 50000: a backlog is written in files of ~1-5 MB instead of thousands "
            "of tiny ones, and one flush takes well under a second."
        ),
    )
    flush_interval_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description=(
            "Seconds the oldest unflushed message may wait before a flush even if flush_rows "
            "is not reached: the archive's freshness, so readers (the gateway) must cover "
            "this much plus one flush from the JetStream tail. Default 5 s."
        ),
    )
    max_buffered_rows: int = Field(
        100_000,
        ge=1,
        description=(
            "Messages held in memory per stream at most (gathering plus being written plus "
            "requested), whatever the backlog; the consumer's max_ack_pending is set to it "
            "so the server enforces it too. About 1.5 KB each held (measured), plus about as "
            "much again for the batch being written. Default 100000 (two flushes: the next "
            "batch arrives while one is written). Must be >= flush_rows."
        ),
    )
    fetch_batch: int = Field(
        2048,
        ge=1,
        le=100_000,
        description=(
            "Messages asked for in one pull request (at most two outstanding). Default "
            "2048: four times the bus default, so a backlog costs fewer requests; a sweep "
            "of 512..8192 with bench/bench_archiver.py's consumer was flat within noise."
        ),
    )
    ack_wait_s: float = Field(
        120.0,
        gt=0,
        description=(
            "Seconds JetStream waits for an ack before redelivering. Must exceed "
            "flush_interval_s plus the slowest flush; a redelivery is harmless (skipped as "
            "committed) but wasted work. Default 120 s."
        ),
    )
    manifest_compact_every: int = Field(
        1000,
        ge=1,
        description=(
            "Commit records after which a stream's manifest is rewritten as one checkpoint, "
            "so it stays small (it is also compacted at every start). Default 1000."
        ),
    )

    @field_validator("max_buffered_rows")
    @classmethod
    def _buffer_holds_a_flush(cls, value: int, info: ValidationInfo) -> int:
        flush_rows = info.data.get("flush_rows")
        if flush_rows is not None and value < flush_rows:
            raise ValueError(f"must be at least flush_rows ({flush_rows})")
        return value

    @field_validator("ack_wait_s")
    @classmethod
    def _ack_wait_covers_a_flush(cls, value: float, info: ValidationInfo) -> float:
        interval_s = info.data.get("flush_interval_s")
        if interval_s is not None and value <= 2 * interval_s:
            raise ValueError(f"must exceed twice flush_interval_s ({interval_s})")
        return value
