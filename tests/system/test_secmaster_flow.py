"""The market universe follows the venue by itself: simulator -> secmaster -> connectors.

Real processes: the Kalshi simulator, the secmaster (syncing its REST API every second into
the session's PostgreSQL, relaying changes to ``SECMASTER``), two connector shards following
the change stream, and the archiver. A market created at the simulator must be in Postgres
(the secmaster's API), on the ``SECMASTER`` stream, subscribed by the shard that owns it and
have its first trade archived within 10 s; a settled market must be dropped by its shard.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import BusSettings, Message, OrderedTail, TailStart, connect
from ssmd.contracts.reference import decode_reference
from ssmd.contracts.shard import shard_of
from ssmd.contracts.subjects import SECMASTER_STREAM, ref_filter
from ssmd.embedded import ServiceProcess, free_port

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]

VENUE = "kalshi"
SHARDS = 2
MARKETS = [
    "KXBTCD-26NOV21-T100000",
    "KXETHD-26NOV21-T4000",
    "KXHIGHNY-26NOV21-B53.5",
    "KXFED-26DEC-T4.25",
    "KXINX-26NOV21-B6000",
]
NEW_MARKET = "KXBTCD-26NOV21-T125000"
WITHIN_S = 10.0
HTTP_TIMEOUT_S = 10.0


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as answer:
        return json.loads(answer.read())


def _post(url: str, body: object) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:
        return json.loads(answer.read())


def _served(connector: ServiceProcess) -> set[str]:
    rows = _get(f"{connector.admin_url}/debug/markets")["markets"]
    return {row["market"].split(":", 1)[1] for row in rows}


def _archived_trade_markets(archive: Path) -> set[str]:
    files = list(archive.glob(f"venue={VENUE}/channel=trade/*/*/*.parquet"))
    if not files:
        return set()
    paths = ", ".join(f"'{path}'" for path in files)
    try:
        rows = duckdb.sql(f"SELECT DISTINCT market FROM read_parquet([{paths}])").fetchall()
    except duckdb.Error:  # a flush renaming files in: look again
        return set()
    return {row[0].split(":", 1)[1] for row in rows}


async def _stream_records(url: str, market: str) -> list[Any]:
    bus = await connect(
        BusSettings(urls=(url,), name="system-secmaster"), registry=CollectorRegistry()
    )
    found: list[Any] = []

    async def keep(message: Message) -> None:
        record = decode_reference(message.data)
        if record.market == market:
            found.append(record)

    tail = OrderedTail(
        bus, SECMASTER_STREAM.name, (ref_filter(VENUE),), keep, start=TailStart.everything()
    )
    task = asyncio.create_task(tail.run())
    await asyncio.sleep(1.0)
    tail.stop()
    await task
    await bus.close()
    return found


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for process in reversed(started):
        process.stop()


def _wait(condition: Any, what: str, deadline: float) -> float:
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() > deadline:
            pytest.fail(f"not within the deadline: {what}")
        time.sleep(0.1)


def test_a_new_market_is_stored_published_subscribed_and_archived_within_10_s(
    nats_url: str,
    postgres_dsn: str,
    valkey_url: str,
    tmp_path: Path,
    processes: list[ServiceProcess],
) -> None:
    env = "sm" + str(int(time.time() * 1000))[-8:]
    port = free_port()
    venue_url = f"http://127.0.0.1:{port}"
    archive = tmp_path / "archive"
    common = {
        "SSMD_RUNTIME_ENV": env,
        "SSMD_RUNTIME_LOG_FORMAT": "text",
        "SSMD_BUS_URLS": nats_url,
        "SSMD_BUS_RECONNECT_MAX_S": "0.5",
    }

    def start(module: str, name: str, settings: dict[str, str]) -> ServiceProcess:
        process = ServiceProcess(
            module, tmp_path / name, env={**common, **settings}, wait_ready=True, name=name
        )
        processes.append(process)
        return process.start()

    start(
        "ssmd.simulator",
        "simulator",
        {
            "SSMD_SIMULATOR_VENUE": VENUE,
            "SSMD_SIMULATOR_PORT": str(port),
            "SSMD_SIMULATOR_MARKETS": json.dumps(MARKETS),
            "SSMD_SIMULATOR_EVENTS_PER_S": "1000",
            "SSMD_SIMULATOR_TRADE_SHARE": "0.3",
        },
    )
    secmaster_port = free_port()
    secmaster_url = f"http://127.0.0.1:{secmaster_port}"
    start(
        "ssmd.secmaster",
        "secmaster",
        {
            "SSMD_DB_DSN": postgres_dsn,
            "SSMD_SECMASTER_VENUES": VENUE,
            "SSMD_SECMASTER_KALSHI_REST_URL": f"{venue_url}/trade-api/v2",
            "SSMD_SECMASTER_PORT": str(secmaster_port),
            "SSMD_SECMASTER_SYNC_INTERVAL_S": "1",
            "SSMD_SECMASTER_CACHE_URL": valkey_url,
            "SSMD_SECMASTER_FOLLOW_STATUS_EVENTS": "false",
        },
    )
    connectors = [
        start(
            "ssmd.connector",
            f"connector-{shard}",
            {
                "SSMD_CONNECTOR_VENUE": VENUE,
                "SSMD_CONNECTOR_WS_URL": f"ws://127.0.0.1:{port}/trade-api/ws/v2",
                "SSMD_CONNECTOR_REST_URL": f"{venue_url}/trade-api/v2",
                "SSMD_CONNECTOR_FOLLOW_SECMASTER": "true",
                "SSMD_CONNECTOR_SHARDS": str(SHARDS),
                "SSMD_CONNECTOR_SHARD": str(shard),
            },
        )
        for shard in range(SHARDS)
    ]
    start(
        "ssmd.archiver",
        "archiver",
        {
            "SSMD_ARCHIVER_ARCHIVE_DIR": str(archive),
            "SSMD_ARCHIVER_VENUES": VENUE,
            "SSMD_ARCHIVER_FLUSH_INTERVAL_S": "0.5",
        },
    )

    def owner(ticker: str) -> ServiceProcess:
        return connectors[shard_of(f"{VENUE}:{ticker}", SHARDS)]

    # The existing universe: every market on the shard that owns it, and on no other.
    _wait(
        lambda: all(ticker in _served(owner(ticker)) for ticker in MARKETS),
        "every market subscribed by its shard",
        time.monotonic() + 60,
    )
    assert _served(connectors[0]).isdisjoint(_served(connectors[1]))

    created_at = time.monotonic()
    deadline = created_at + WITHIN_S
    _post(f"{venue_url}/control/lifecycle", {"product": NEW_MARKET, "action": "create"})
    market = f"{VENUE}:{NEW_MARKET}"

    def in_postgres() -> bool:
        try:
            return _get(f"{secmaster_url}/v1/markets/{market}")["market"] == market
        except urllib.error.HTTPError:
            return False

    stored_at = _wait(in_postgres, "the new market in the secmaster", deadline)
    subscribed_at = _wait(
        lambda: NEW_MARKET in _served(owner(NEW_MARKET)), "subscribed by its shard", deadline
    )
    archived_at = _wait(
        lambda: NEW_MARKET in _archived_trade_markets(archive), "its first trade archived", deadline
    )
    records = asyncio.run(_stream_records(nats_url, market))
    assert records, "no SECMASTER record of the new market"
    assert records[0].change == "created"
    assert NEW_MARKET not in _served(connectors[1 - shard_of(market, SHARDS)])
    print(
        f"new market: stored {stored_at - created_at:.1f}s, subscribed "
        f"{subscribed_at - created_at:.1f}s, first trade archived {archived_at - created_at:.1f}s"
    )

    # A market that settles is dropped by its shard.
    settled = MARKETS[0]
    for action in ("close", "determine", "settle"):
        _post(f"{venue_url}/control/lifecycle", {"product": settled, "action": action})
    _wait(
        lambda: settled not in _served(owner(settled)),
        "the settled market dropped",
        time.monotonic() + WITHIN_S,
    )
