"""`SyncRunner`: staged, resumable venue syncs, on demand and on a schedule.

One sync of a venue is one ``sync_runs`` row, through these steps:

1. **Open or resume.** The venue's run in state ``staging`` is resumed where its saved
   cursor points (``resumed`` in the report); one older than `STALE_RUN_S` is marked
   ``abandoned`` (its pages would be stale) and a fresh run opened. The unique index
   allows one staging run per venue; a session-level advisory lock per venue keeps two
   processes from paging the same run (the second gets `SyncBusyError`).
2. **Stage.** Each page's rows go into ``sync_staging`` together with the next cursor and
   ``pages`` + 1 in ONE transaction, so a process killed while paging resumes at the first
   page it did not stage: no page is fetched twice, none is lost. ``cursor`` is NULL before
   the first page and ``''`` (`DONE_CURSOR`) once the last page is staged.
3. **Apply.** One transaction reads every staged row, lets the source join them
   (`VenueSource.finish`), upserts series and events, calls
   `apply_records(full_universe=True)`, marks the run ``applied`` with its change count
   and deletes its staging rows. Killed here, the transaction rolls back: the run is still
   ``staging`` with every page, and the next sync goes straight to applying it.

A page the venue refuses for good (a 4xx, a body that does not parse, a cursor that loops)
marks the run ``failed`` with the error (the row is kept for diagnosis, its staging rows
deleted) and the next sync starts fresh. Temporary errors that outlast the client's retries
leave the run ``staging``, to be resumed. A venue that lists no market at all while markets
of it are listed here fails the run rather than mark them all removed.

"Incremental" later runs: every run pages the full listing (only a full listing shows which
markets are gone), but only records whose content hash changed are written and published.

`run_forever` syncs each venue every ``sync_interval_s`` in its own task; a venue's failure
is logged and retried after a capped, jittered backoff, never stopping the other venues.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import aiohttp
import msgspec

from ssmd.core.clock import NS_PER_S, Clock
from ssmd.core.errors import ConfigError, PermanentError, SsmdError, TemporaryError
from ssmd.core.retry import Backoff
from ssmd.db import Connection, Pool, Record, translate_errors
from ssmd.secmaster.model import decode_record
from ssmd.secmaster.settings import SecmasterSettings
from ssmd.secmaster.store import EventRow, SeriesRow, apply_records, upsert_events, upsert_series
from ssmd.secmaster.sync.http import RestClient
from ssmd.secmaster.sync.kalshi import KalshiSource
from ssmd.secmaster.sync.kraken_futures import KrakenFuturesSource
from ssmd.secmaster.sync.polymarket import PolymarketSource
from ssmd.secmaster.sync.source import SourcePage, Staged, VenueSource, describe_skips
from ssmd.venues.kalshi import config as kalshi_config
from ssmd.venues.kraken_futures import config as kraken_config
from ssmd.venues.polymarket import config as polymarket_config

log = logging.getLogger(__name__)

DONE_CURSOR: Final = ""
"""``sync_runs.cursor`` once every page of the run is staged."""
MAX_PAGES: Final = 100_000
"""A venue whose cursor never ends must not page forever: the run fails past this."""
STALE_RUN_S: Final = 3600.0
"""A staging run started longer ago than this (database time) is abandoned, not resumed."""
_LOCK_NAMESPACE: Final = b"ssmd.secmaster.sync:"
_SERIES_DECODER: Final = msgspec.json.Decoder(SeriesRow)
_EVENT_DECODER: Final = msgspec.json.Decoder(EventRow)


@dataclass(frozen=True)
class SyncReport:
    """What one sync of a venue did."""

    venue: str
    run_id: int
    pages: int
    rows: int
    changes: int
    resumed: bool
    seconds: float


class SyncBusyError(TemporaryError):
    """Another process holds the venue's sync lock; try again later."""


class EmptyUniverseError(PermanentError):
    """The venue listed no market although markets of it are listed here."""


@dataclass(frozen=True, slots=True)
class _Run:
    run_id: int
    cursor: str | None
    pages: int
    staged: int
    skipped: int
    resumed: bool


@dataclass(slots=True)
class _Progress:
    state: str = "idle"  # idle | staging | applying | backoff
    run_id: int | None = None
    pages: int = 0
    rows: int = 0
    skipped: int = 0
    failures: int = 0
    last_report: SyncReport | None = None
    last_error: str | None = None
    last_success_ns: int | None = None


def sync_lock_key(venue: str) -> int:
    """The session advisory lock key held while `venue` syncs."""
    digest = hashlib.sha256(_LOCK_NAMESPACE + venue.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def rest_clients(
    settings: SecmasterSettings, http: aiohttp.ClientSession, clock: Clock
) -> dict[str, RestClient]:
    """One rate-limited client per venue of `settings.venues` (each its own token bucket)."""
    return {
        venue: RestClient(
            http,
            venue=venue,
            clock=clock,
            requests_per_s=settings.rest_requests_per_s,
            timeout_s=settings.rest_timeout_s,
            attempts=settings.rest_attempts,
        )
        for venue in settings.venues
    }


def build_sources(
    settings: SecmasterSettings, clients: Mapping[str, RestClient]
) -> dict[str, VenueSource]:
    """The source of each venue of `clients`, at the URLs of `settings` (else production)."""
    sources: dict[str, VenueSource] = {}
    for venue, client in clients.items():
        if venue == kalshi_config.VENUE:
            url = settings.kalshi_rest_url or kalshi_config.REST_URL
            sources[venue] = KalshiSource(client, url)
        elif venue == kraken_config.VENUE:
            url = settings.kraken_futures_rest_url or kraken_config.REST_URL
            sources[venue] = KrakenFuturesSource(client, url)
        elif venue == polymarket_config.VENUE:
            url = settings.polymarket_clob_url or polymarket_config.CLOB_REST_URL
            sources[venue] = PolymarketSource(client, url)
        else:
            raise ConfigError(
                f"secmaster cannot sync venue {venue!r}: kalshi, kraken_futures or polymarket",
                fields=("venues",),
            )
    return sources


class SyncRunner:
    """Staged, resumable syncs of every configured venue; see module doc."""

    def __init__(
        self,
        pool: Pool,
        settings: SecmasterSettings,
        *,
        http: aiohttp.ClientSession,
        clock: Clock,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._clock = clock
        self._clients = rest_clients(settings, http, clock)
        self._sources = build_sources(settings, self._clients)
        self._locks = {venue: asyncio.Lock() for venue in self._sources}
        self._progress = {venue: _Progress() for venue in self._sources}

    @property
    def venues(self) -> tuple[str, ...]:
        return tuple(self._sources)

    # -- public ---------------------------------------------------------------------------
    async def sync_venue(self, venue: str) -> SyncReport:
        """One full, staged, resumable sync of `venue` (callers of one venue take turns)."""
        source = self._sources.get(venue)
        if source is None:
            raise ValueError(f"venue {venue!r} is not synced here (venues: {self.venues})")
        progress = self._progress[venue]
        async with self._locks[venue]:
            try:
                report = await self._sync_exclusive(venue, source, progress)
            except Exception as exc:
                progress.last_error = f"{type(exc).__name__}: {exc}"
                progress.failures += 1
                raise
            finally:
                progress.state = "idle"
        progress.last_report, progress.last_error, progress.failures = report, None, 0
        progress.last_success_ns = self._clock.now_ns()
        return report

    async def sync_all(self) -> list[SyncReport]:
        """Sync every venue at once; raise the first failure once all have finished."""
        results = await asyncio.gather(
            *(self.sync_venue(venue) for venue in self._sources), return_exceptions=True
        )
        reports: list[SyncReport] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            reports.append(result)
        return reports

    async def run_forever(self) -> None:
        """Sync each venue every ``sync_interval_s`` until cancelled."""
        async with asyncio.TaskGroup() as group:
            for venue in self._sources:
                group.create_task(self._loop(venue), name=f"secmaster-sync:{venue}")

    def progress(self) -> dict[str, object]:
        """Per venue: state, pages/rows/skipped of the current run, REST requests made,
        the last report, the last error and consecutive failures."""
        return {
            venue: {
                "state": state.state,
                "run_id": state.run_id,
                "pages": state.pages,
                "rows": state.rows,
                "skipped": state.skipped,
                "failures": state.failures,
                "requests": self._clients[venue].requests,
                "last_report": (
                    None if state.last_report is None else dataclasses.asdict(state.last_report)
                ),
                "last_error": state.last_error,
                "last_success_ns": state.last_success_ns,
            }
            for venue, state in self._progress.items()
        }

    # -- schedule -------------------------------------------------------------------------
    async def _loop(self, venue: str) -> None:
        interval_s = self._settings.sync_interval_s
        backoff = Backoff(initial_s=min(1.0, interval_s), max_s=interval_s)
        while True:
            delay_s = interval_s
            try:
                report = await self.sync_venue(venue)
            except Exception as exc:  # noqa: BLE001 - one venue's failure never stops the loop
                failures = self._progress[venue].failures
                delay_s = backoff.delay_s(max(1, failures))
                log.error(
                    "sync of %s failed (%d in a row): %s; next try in %.1f s",
                    venue,
                    failures,
                    exc,
                    delay_s,
                    extra={"venue": venue, "failures": failures, "delay_s": delay_s},
                )
                self._progress[venue].state = "backoff"
            else:
                log.debug("scheduled sync of %s done", venue, extra={"report": report})
            await self._clock.sleep(delay_s)
            self._progress[venue].state = "idle"

    # -- one sync -------------------------------------------------------------------------
    async def _sync_exclusive(
        self, venue: str, source: VenueSource, progress: _Progress
    ) -> SyncReport:
        key = sync_lock_key(venue)
        async with self._pool.acquire() as lock_conn:
            with translate_errors(f"taking the sync lock of {venue}"):
                locked = await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", key)
            if not locked:
                raise SyncBusyError(f"another process is syncing {venue}")
            try:
                return await self._sync_locked(venue, source, progress)
            finally:
                with contextlib.suppress(SsmdError), translate_errors("releasing a sync lock"):
                    await lock_conn.execute("SELECT pg_advisory_unlock($1)", key)

    async def _sync_locked(
        self, venue: str, source: VenueSource, progress: _Progress
    ) -> SyncReport:
        started_ns = self._clock.monotonic_ns()
        run = await self._open_run(venue)
        progress.state, progress.run_id = "staging", run.run_id
        progress.pages, progress.rows, progress.skipped = run.pages, run.staged, run.skipped
        log.info(
            "sync of %s %s run %d",
            venue,
            "resumes" if run.resumed else "starts",
            run.run_id,
            extra={"venue": venue, "run_id": run.run_id, "pages": run.pages},
        )
        try:
            run = await self._page(venue, run, source, progress)
            progress.state = "applying"
            rows, changes = await self._apply(venue, run, source)
        except Exception as exc:
            if isinstance(exc, SsmdError) and not exc.retryable:
                await self._fail(venue, run, exc)
            raise
        seconds = (self._clock.monotonic_ns() - started_ns) / NS_PER_S
        report = SyncReport(venue, run.run_id, run.pages, rows, changes, run.resumed, seconds)
        log.info(
            "sync of %s applied: %d markets, %d changes in %.2f s",
            venue,
            rows,
            changes,
            seconds,
            extra={"venue": venue, "report": dataclasses.asdict(report)},
        )
        return report

    async def _open_run(self, venue: str) -> _Run:
        async with self._pool.acquire() as conn, conn.transaction():
            with translate_errors(f"opening a sync run of {venue}"):
                row = await conn.fetchrow(
                    """
                    SELECT run_id, cursor, pages, staged, skipped,
                           started_at < now() - make_interval(secs => $2) AS stale
                    FROM sync_runs WHERE venue = $1 AND state = 'staging'
                    """,
                    venue,
                    STALE_RUN_S,
                )
                if row is not None and row["stale"]:
                    await self._close_run(conn, row["run_id"], "abandoned", "stale: not resumed")
                    log.warning("abandoned stale sync run %d of %s", row["run_id"], venue)
                    row = None
                if row is not None:
                    return _Run(
                        row["run_id"], row["cursor"], row["pages"], row["staged"],
                        row["skipped"], resumed=True,
                    )  # fmt: skip
                run_id = await conn.fetchval(
                    "INSERT INTO sync_runs (venue, state) VALUES ($1, 'staging') RETURNING run_id",
                    venue,
                )
        return _Run(int(run_id), None, 0, 0, 0, resumed=False)

    async def _page(self, venue: str, run: _Run, source: VenueSource, progress: _Progress) -> _Run:
        while run.cursor != DONE_CURSOR:
            if run.pages >= MAX_PAGES:
                raise PermanentError(f"{venue} listing has more than {MAX_PAGES} pages")
            page = await source.fetch_page(run.cursor)
            following = DONE_CURSOR if page.next_cursor is None else page.next_cursor
            await self._stage(run, page, following)
            run = dataclasses.replace(
                run,
                cursor=following,
                pages=run.pages + 1,
                staged=run.staged + len(page.rows),
                skipped=run.skipped + page.skipped,
            )
            progress.pages, progress.rows, progress.skipped = run.pages, run.staged, run.skipped
            if page.skipped:
                log.info(
                    "%s page %d: %d rows skipped: %s",
                    venue,
                    run.pages,
                    page.skipped,
                    describe_skips(page.skipped_reasons),
                    extra={"venue": venue, "skipped": page.skipped},
                )
        return run

    async def _stage(self, run: _Run, page: SourcePage, following: str) -> None:
        rows = list({(row.kind, row.key): row for row in page.rows}.values())
        async with self._pool.acquire() as conn, conn.transaction():
            with translate_errors(f"staging page {run.pages + 1} of sync run {run.run_id}"):
                if rows:
                    await conn.execute(
                        """
                        INSERT INTO sync_staging (run_id, kind, key, record)
                        SELECT $1, u.kind, u.key, u.record::jsonb
                        FROM unnest($2::text[], $3::text[], $4::text[]) AS u(kind, key, record)
                        ON CONFLICT (run_id, kind, key) DO UPDATE SET record = EXCLUDED.record
                        """,
                        run.run_id,
                        [row.kind for row in rows],
                        [row.key for row in rows],
                        [row.data.decode() for row in rows],
                    )
                status = await conn.execute(
                    """
                    UPDATE sync_runs SET cursor = $2, pages = pages + 1, staged = staged + $3,
                                         skipped = skipped + $4
                    WHERE run_id = $1 AND state = 'staging'
                    """,
                    run.run_id,
                    following,
                    len(rows),
                    page.skipped,
                )
            if status != "UPDATE 1":
                raise TemporaryError(f"sync run {run.run_id} is no longer staging")

    async def _apply(self, venue: str, run: _Run, source: VenueSource) -> tuple[int, int]:
        """Apply every staged row in one transaction: (markets, changes)."""
        async with self._pool.acquire() as conn, conn.transaction():
            with translate_errors(f"reading the staged rows of sync run {run.run_id}"):
                rows = await conn.fetch(
                    "SELECT kind, record FROM sync_staging WHERE run_id = $1 ORDER BY kind, key",
                    run.run_id,
                )
                staged = _decode_staged(rows)
                records = source.finish(staged)
                if not records:
                    listed = await conn.fetchval(
                        "SELECT count(*) FROM markets WHERE venue = $1 AND listed", venue
                    )
                    if listed:
                        raise EmptyUniverseError(
                            f"{venue} listed no market; {listed} listed here are kept"
                        )
            await upsert_series(conn, venue, staged.series)
            await upsert_events(conn, venue, staged.events)
            written = await apply_records(
                conn,
                venue,
                records,
                source="rest",
                now_ns=self._clock.now_ns(),
                full_universe=True,
            )
            with translate_errors(f"closing sync run {run.run_id}"):
                await conn.execute(
                    """
                    UPDATE sync_runs SET state = 'applied', changes = $2, staged = $3,
                                         finished_at = now()
                    WHERE run_id = $1 AND state = 'staging'
                    """,
                    run.run_id,
                    len(written),
                    len(records),
                )
                await conn.execute("DELETE FROM sync_staging WHERE run_id = $1", run.run_id)
        return len(records), len(written)

    async def _fail(self, venue: str, run: _Run, exc: Exception) -> None:
        log.error(
            "sync run %d of %s failed: %s",
            run.run_id,
            venue,
            exc,
            extra={"venue": venue, "run_id": run.run_id},
        )
        async with self._pool.acquire() as conn, conn.transaction():
            with translate_errors(f"marking sync run {run.run_id} failed"):
                await self._close_run(conn, run.run_id, "failed", f"{type(exc).__name__}: {exc}")

    @staticmethod
    async def _close_run(conn: Connection, run_id: int, state: str, error: str) -> None:
        await conn.execute(
            """
            UPDATE sync_runs SET state = $2, error = $3, finished_at = now()
            WHERE run_id = $1 AND state = 'staging'
            """,
            run_id,
            state,
            error,
        )
        await conn.execute("DELETE FROM sync_staging WHERE run_id = $1", run_id)


def _decode_staged(rows: list[Record]) -> Staged:
    staged = Staged(records=[], series=[], events=[])
    for row in rows:
        kind, data = row["kind"], row["record"]
        if kind == "market":
            staged.records.append(decode_record(data))
        elif kind == "series":
            staged.series.append(_SERIES_DECODER.decode(data))
        elif kind == "event":
            staged.events.append(_EVENT_DECODER.decode(data))
        else:
            raise PermanentError(f"unknown staged row kind {kind!r}")
    return staged
