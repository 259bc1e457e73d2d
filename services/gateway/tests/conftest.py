"""Fixtures of the gateway tests: archive writers in ssmd-archiver's layout, a live gateway.

`write_archive` writes Parquet exactly as the archiver's contract says
(``venue=/channel=/date=/hour=``, zstd, event fields with decimals as strings, ``ts_event``
and ``ts_recv`` as naive UTC timestamp[ns], the ``*_ns`` integers, ``msg_id`` and
``stream_seq``; no ``venue`` column). `running_gateway` starts the whole service in-process
(uvicorn on a free port, admin server, real NATS) and stops it like SIGTERM would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import BusSettings, connect
from ssmd.contracts.events import Trade, event_msg_id
from ssmd.core.runtime import Service
from ssmd.gateway.service import Gateway
from ssmd.gateway.settings import GatewaySettings

VENUE = "kraken_futures"
MARKET = "kraken_futures:PF_XBTUSD"
OTHER_MARKET = "kraken_futures:PF_ETHUSD"
NS_PER_HOUR = 3_600_000_000_000
# 2024-05-01T12:00:00Z
T0 = 1_714_564_800_000_000_000

TRADE_SCHEMA = pa.schema(
    [
        ("market", pa.string()),
        ("seq", pa.int64()),
        ("price", pa.string()),
        ("size", pa.string()),
        ("side", pa.string()),
        ("trade_id", pa.string()),
        ("ts_event", pa.timestamp("ns")),
        ("ts_recv", pa.timestamp("ns")),
        ("ts_event_ns", pa.int64()),
        ("ts_recv_ns", pa.int64()),
        ("msg_id", pa.string()),
        ("stream_seq", pa.int64()),
    ]
)


def trade(
    ts_event_ns: int,
    *,
    market: str = MARKET,
    seq: int | None = None,
    price: str = "64000.5",
    size: str = "0.01",
    side: str | None = "buy",
    trade_id: str | None = None,
    recv_delay_ns: int = 1_000_000,
) -> Trade:
    venue = market.split(":", 1)[0]
    return Trade(
        venue=venue,
        market=market,
        ts_event_ns=ts_event_ns,
        ts_recv_ns=ts_event_ns + recv_delay_ns,
        seq=seq,
        price=price,
        size=size,
        side=side,  # type: ignore[arg-type]
        trade_id=trade_id,
    )


def write_archive(
    root: Path, trades: Sequence[Trade], *, name: str = "part-00000.parquet"
) -> list[Path]:
    """Write `trades` into the archive under `root`, one file per venue and hour."""
    groups: dict[tuple[str, str, str], list[Trade]] = {}
    for event in trades:
        moment = dt.datetime.fromtimestamp(event.ts_event_ns // 1_000_000_000, dt.UTC)
        key = (event.venue, moment.date().isoformat(), f"{moment.hour:02d}")
        groups.setdefault(key, []).append(event)
    written = []
    for (venue, date, hour), events in sorted(groups.items()):
        directory = root / f"venue={venue}" / "channel=trade" / f"date={date}" / f"hour={hour}"
        directory.mkdir(parents=True, exist_ok=True)
        columns: dict[str, list[Any]] = {field.name: [] for field in TRADE_SCHEMA}
        for stream_seq, event in enumerate(events, start=1):
            columns["market"].append(event.market)
            columns["seq"].append(event.seq)
            columns["price"].append(event.price)
            columns["size"].append(event.size)
            columns["side"].append(event.side)
            columns["trade_id"].append(event.trade_id)
            columns["ts_event"].append(event.ts_event_ns)
            columns["ts_recv"].append(event.ts_recv_ns)
            columns["ts_event_ns"].append(event.ts_event_ns)
            columns["ts_recv_ns"].append(event.ts_recv_ns)
            columns["msg_id"].append(event_msg_id(event))
            columns["stream_seq"].append(stream_seq)
        table = pa.table(columns, schema=TRADE_SCHEMA)
        path = directory / name
        temporary = directory / f".{name}.tmp"
        pq.write_table(table, temporary, compression="zstd")
        temporary.rename(path)  # as the archiver does: files appear whole
        written.append(path)
    return written


# Test modules cannot import conftest at run time (importlib import mode): the helpers
# reach them through the `kit` fixture.
class Kit:
    """The constants and archive helpers of the gateway tests."""

    VENUE = VENUE
    MARKET = MARKET
    OTHER_MARKET = OTHER_MARKET
    NS_PER_HOUR = NS_PER_HOUR
    T0 = T0
    trade = staticmethod(trade)
    write_archive = staticmethod(write_archive)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    path = tmp_path / "archive"
    path.mkdir()
    return path


@dataclass
class RunningGateway:
    """A gateway running in-process: its parts, base URL and an HTTP client."""

    gateway: Gateway
    service: Service
    env: str
    url: str
    admin_url: str
    http: aiohttp.ClientSession

    async def get(self, path: str, **params: Any) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        query = {key: str(value) for key, value in params.items() if value is not None}
        async with self.http.get(self.url + path, params=query) as response:
            return response.status, await response.json(), response.headers

    async def admin(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.admin_url + path) as response:
            return response.status, await response.text()


GatewayFactory = Callable[..., Awaitable[RunningGateway]]


@pytest.fixture
async def running_gateway(nats_url: str, archive_dir: Path) -> AsyncIterator[GatewayFactory]:
    """``await running_gateway(**settings)``: a started gateway on a fresh env token."""
    started: list[tuple[RunningGateway, asyncio.Task[int]]] = []
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))

    async def start(*, env: str | None = None, **overrides: Any) -> RunningGateway:
        env = env or "t" + uuid.uuid4().hex[:10]
        values: dict[str, Any] = {
            "archive_dir": archive_dir,
            "port": 0,
            "venues": (VENUE, "kalshi"),
            **overrides,
        }
        settings = GatewaySettings(**values)
        service = Service("gateway-test", registry=CollectorRegistry(), drain_timeout_s=10)
        bus = await connect(
            BusSettings(
                urls=(nats_url,),
                name="gateway-test",
                connect_deadline_s=10,
                consumer_heartbeat_s=0.5,
                consumer_expires_s=2.0,
            ),
            registry=service.registry,
        )
        gateway = Gateway(settings, env=env, bus=bus, service=service)
        gateway.register()
        await service.start_admin()
        task = asyncio.create_task(service.run(install_signal_handlers=False), name="gateway")
        running = RunningGateway(gateway, service, env, gateway.http.url, service.admin_url, http)
        started.append((running, task))
        return running

    try:
        yield start
    finally:
        for running, task in started:
            running.service.request_stop()
            assert await asyncio.wait_for(task, timeout=20) == 0
        await http.close()
