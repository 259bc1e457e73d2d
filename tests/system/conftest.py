"""One venue's mesh end to end, every piece a real process, for the system tests.

simulator (``python -m ssmd.simulator``, synthetic markets) -> connector -> JetStream (the
session's file-storage nats-server) -> archiver -> Parquet, for Kraken Futures (`mesh`),
Kalshi and Polymarket (`venue_mesh(venue)`); a `VenueProfile` holds what differs. A test
starts the pieces through its mesh, breaks one of them while data flows, then
`Mesh.settle` stops the venue and drains the path, and
`Mesh.assert_trades_archived_exactly_once` compares the archive with the truth:

* **truth** = the simulator's ledger of trades it *sent*: every ``trade`` frame and every
  trade inside a ``trade_snapshot`` frame, on every connection. A frame is in the ledger
  once written to its socket, so a trade written into the socket of a connector that was
  then killed is in the truth although nobody read it. It must still reach the archive:
  the next connection's ``trade_snapshot`` re-sends the product's most recent trades (same
  ``uid`` and ``seq``), which is why the simulator keeps a large snapshot here
  (`TRADE_SNAPSHOT_SIZE`, far above the trades one product makes while a connector is
  down), and JetStream's duplicate window stores a re-sent trade once.
* **archive** = rows of ``channel=trade`` read with plain DuckDB; key = market id
  (``kraken_futures:<product_id>``) + ``trade_id`` (the venue's ``uid``). Kalshi: the
  ledger's ``trade`` frames, key ``kalshi:<ticker>`` + ``trade_id``; Polymarket: its
  ``last_trade_price`` frames, key ``polymarket:<condition_id>`` + ``transaction_hash``
  (neither venue re-sends trades after a reconnect, so their tests break the socket, not
  the connector process).

Every test gets its own environment token, so its streams (``MD_<ENV>_KRAKEN_FUTURES``...)
are its own on the shared nats-server. The pieces run as subprocesses, so the tests are
plain synchronous functions; the few JetStream reads go through ``ssmd.bus`` in
`asyncio.run`. Test modules cannot import this file (``--import-mode=importlib``): they
get everything through the ``mesh`` fixture and import its type under TYPE_CHECKING.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import BusSettings, Message, OrderedTail, TailStart, connect
from ssmd.contracts.subjects import StreamName, dead_letter_stream, md_stream
from ssmd.embedded import NatsServer, ServiceProcess, free_port
from ssmd.venues.kalshi import config as kalshi
from ssmd.venues.kraken_futures import config as kraken_futures
from ssmd.venues.polymarket import config as polymarket

EVENTS_PER_S = 600  # all markets together
TRADE_SHARE = 0.2  # ~120 trades/s: a few thousand per test
# Trades re-sent to every new connection (the simulator's maximum). A product makes ~30
# trades/s (~60 in a burst); a connector restart takes 2-4 s here, so the snapshot covers
# what a killed connector had read but not published, many times over.
TRADE_SNAPSHOT_SIZE = 1000


@dataclass(frozen=True)
class VenueProfile:
    """What a venue's mesh needs: symbols, paths, where the ledger keeps trades."""

    venue: str
    markets: tuple[str, ...]
    ws_path: str
    rest_path: str
    trade_feeds: tuple[str, ...]
    simulator: dict[str, Any] = field(default_factory=dict)
    connector_markets: bool = True
    """Configure the connector's markets (else it discovers them over REST)."""


PROFILES: dict[str, VenueProfile] = {
    kraken_futures.VENUE: VenueProfile(
        kraken_futures.VENUE,
        # Linear and inverse perpetuals and a fixed-maturity future.
        ("PF_XBTUSD", "PF_ETHUSD", "PI_XBTUSD", "FF_XBTUSD_270326"),
        kraken_futures.WS_PATH,
        kraken_futures.REST_PATH,
        ("trade", "trade_snapshot"),
        {"trade_snapshot_size": TRADE_SNAPSHOT_SIZE},
    ),
    kalshi.VENUE: VenueProfile(
        kalshi.VENUE,
        ("KXBTCD-26NOV21-T100000", "KXETHD-26NOV21-T4000", "KXHIGHNY-26NOV21-B53.5"),
        kalshi.WS_PATH,
        kalshi.REST_PATH,
        ("trade",),
    ),
    polymarket.VENUE: VenueProfile(
        polymarket.VENUE,
        ("btc-above-100k-on-nov-30", "fed-cuts-in-december", "eth-above-4k-on-nov-30"),
        polymarket.WS_MARKET_PATH,
        "",
        ("last_trade_price",),
        connector_markets=False,
    ),
}
VENUE = kraken_futures.VENUE
MARKETS = PROFILES[VENUE].markets
HTTP_TIMEOUT_S = 10.0
POLL_S = 0.25
SETTLE_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 30.0

TradeKey = tuple[str, str]
"""(market id, trade id): one trade."""


def _env_values(values: dict[str, Any]) -> dict[str, str]:
    """Settings as environment strings: lists as JSON arrays, the rest as text."""
    return {
        key: json.dumps(value) if isinstance(value, list | tuple) else str(value)
        for key, value in values.items()
    }


def http_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as answer:
        body: bytes = answer.read()
        return body


def http_post_json(url: str, body: object) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:
        return json.loads(answer.read())


def poll(condition: Callable[[], bool], what: str, timeout_s: float) -> None:
    """Call `condition` every `POLL_S` until true; fail naming `what` after `timeout_s`."""
    for _ in range(int(timeout_s / POLL_S) + 1):
        if condition():
            return
        time.sleep(POLL_S)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}")


def terminate(process: ServiceProcess) -> int | None:
    """SIGTERM a service as Kubernetes would; its exit status (None if it hung)."""
    if not process.is_running:
        return process.returncode
    os.killpg(process.pid, signal.SIGTERM)
    for _ in range(int(EXIT_TIMEOUT_S / 0.05)):
        if process.returncode is not None:
            break
        time.sleep(0.05)
    code = process.returncode
    process.stop()  # SIGKILLs it if it hung
    return code


class Mesh:
    """Simulator, connector and archiver of one test, on the session's nats-server."""

    def __init__(
        self, nats: NatsServer, root: Path, env: str, profile: VenueProfile = PROFILES[VENUE]
    ) -> None:
        self.nats = nats
        self.root = root
        self.env = env
        self.profile = profile
        self.venue = profile.venue
        self.markets = profile.markets
        self.archive_dir = root / "archive"
        self.md = md_stream(env, profile.venue)
        self.dlq = dead_letter_stream(env)
        self.simulator: ServiceProcess | None = None
        self.connector: ServiceProcess | None = None
        self.archiver: ServiceProcess | None = None
        self._started: list[ServiceProcess] = []
        self._venue_port = free_port()

    # -- processes --------------------------------------------------------------------------
    def _service(
        self, module: str, settings: dict[str, Any], *, wait_ready: bool = True
    ) -> ServiceProcess:
        env = {
            "SSMD_RUNTIME_ENV": self.env,
            "SSMD_RUNTIME_LOG_FORMAT": "text",
            "SSMD_BUS_URLS": self.nats.url,
            "SSMD_BUS_RECONNECT_MAX_S": "0.5",
            **_env_values(settings),
        }
        run_dir = self.root / module.rsplit(".", 1)[-1]
        process = ServiceProcess(module, run_dir, env=env, wait_ready=wait_ready)
        self._started.append(process)
        return process.start()

    def start_simulator(self, **settings: Any) -> ServiceProcess:
        """The venue on a fixed port (kept across restarts); `settings` are SSMD_SIMULATOR_*."""
        values = {
            "venue": self.venue,
            "markets": list(self.markets),
            "events_per_s": EVENTS_PER_S,
            "trade_share": TRADE_SHARE,
            "port": self._venue_port,
            **self.profile.simulator,
            **settings,
        }
        self.simulator = self._service(
            "ssmd.simulator", {f"SSMD_SIMULATOR_{k.upper()}": v for k, v in values.items()}
        )
        return self.simulator

    def restart_simulator(self, **settings: Any) -> ServiceProcess:
        """Stop the simulator and start a new one (same port) with `settings`."""
        if self.simulator is not None:
            self.simulator.stop()
        return self.start_simulator(**settings)

    def start_connector(self, *, wait_ready: bool = True, **settings: Any) -> ServiceProcess:
        """One connector for every market; ready once the venue acknowledged everything
        (unless `wait_ready` is false: a connector the venue refuses is never ready)."""
        values: dict[str, Any] = {
            "venue": self.venue,
            "ws_url": f"ws://127.0.0.1:{self._venue_port}{self.profile.ws_path}",
            "rest_url": f"{self.venue_url}{self.profile.rest_path}",
            "reconnect_initial_s": 0.05,
            "reconnect_max_s": 0.5,
            **settings,
        }
        if self.profile.connector_markets:
            values.setdefault("markets", list(self.markets))
        env = {f"SSMD_CONNECTOR_{k.upper()}": v for k, v in values.items()}
        # A lost ack is re-sent after 2 s rather than 10 s (a nats-server restart).
        env["SSMD_BUS_PUBLISH_ACK_TIMEOUT_S"] = "2"
        self.connector = self._service("ssmd.connector", env, wait_ready=wait_ready)
        return self.connector

    def start_archiver(self, **settings: Any) -> ServiceProcess:
        """The archiver of this env's venue streams into `archive_dir`."""
        values = {
            "archive_dir": self.archive_dir,
            "venues": self.venue,
            "flush_interval_s": 0.5,
            # Messages held by a killed archiver come back after this.
            "ack_wait_s": 2,
            **settings,
        }
        env = {f"SSMD_ARCHIVER_{k.upper()}": v for k, v in values.items()}
        env |= {"SSMD_BUS_CONSUMER_HEARTBEAT_S": "0.5", "SSMD_BUS_CONSUMER_EXPIRES_S": "2"}
        self.archiver = self._service("ssmd.archiver", env)
        return self.archiver

    def start_all(self, **simulator_settings: Any) -> None:
        """Simulator, then the connector (it provisions the streams), then the archiver."""
        self.start_simulator(**simulator_settings)
        self.start_connector()
        self.start_archiver()

    def stop_all(self) -> None:
        for process in reversed(self._started):
            process.stop()

    def log_tails(self) -> str:
        return "\n".join(f"--- {p.name} ({p.log_path}):\n{p.log_tail(2000)}" for p in self._started)

    # -- the simulator's control API -----------------------------------------------------
    @property
    def venue_url(self) -> str:
        return f"http://127.0.0.1:{self._venue_port}"

    def fault(self, action: str, **options: Any) -> Any:
        """``POST /control/faults``; the simulator's answer."""
        return http_post_json(f"{self.venue_url}/control/faults", {"action": action, **options})

    def lifecycle(self, product: str, action: str, result: str | None = None) -> Any:
        """``POST /control/lifecycle``: move a market through its lifecycle now."""
        body: dict[str, Any] = {"product": product, "action": action}
        if result is not None:
            body["result"] = result
        return http_post_json(f"{self.venue_url}/control/lifecycle", body)

    def connections(self) -> list[dict[str, Any]]:
        """The simulator's open connections and their subscriptions."""
        answer: list[dict[str, Any]] = json.loads(http_get(f"{self.venue_url}/control/connections"))
        return answer

    def connector_metrics(self) -> dict[str, float]:
        """The connector's /metrics samples, summed over labels, by sample name."""
        assert self.connector is not None
        text = http_get(f"{self.connector.admin_url}/metrics").decode()
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name_part, _, value = line.rpartition(" ")
            name = name_part.split("{", 1)[0]
            samples[name] = samples.get(name, 0.0) + float(value)
        return samples

    def ledger(self, **filters: str) -> list[dict[str, Any]]:
        """Ledger entries matching `filters` (kind, feed, product, connection)."""
        query = "&".join([*(f"{k}={v}" for k, v in filters.items()), "format=jsonl"])
        body = http_get(f"{self.venue_url}/control/ledger?{query}")
        return [json.loads(line) for line in body.splitlines() if line]

    def sent_trades(self) -> Counter[TradeKey]:
        """How many times the simulator sent each trade (live or in a snapshot, any
        connection). Fails if the ledger had to drop entries: the truth would be partial."""
        summary = json.loads(http_get(f"{self.venue_url}/control/ledger/summary"))
        assert summary["dropped"] == 0, "the simulator's ledger overflowed"
        sent: Counter[TradeKey] = Counter()
        for feed in self.profile.trade_feeds:
            for entry in self.ledger(kind="data", feed=feed):
                if entry["uid"] is not None:  # an empty snapshot has one uid-less entry
                    sent[(f"{self.venue}:{entry['product']}", entry["uid"])] += 1
        return sent

    def connections_seen(self) -> set[int]:
        """Ids of every connection the simulator sent data to."""
        summary = json.loads(http_get(f"{self.venue_url}/control/ledger/summary"))
        return {g["connection"] for g in summary["groups"] if g["connection"] is not None}

    def wait_subscribed(self, timeout_s: float = 20.0) -> None:
        """Until one client holds every subscription (a reconnect has completed)."""
        if self.venue != VENUE:
            self.wait_connector_ready(timeout_s)
            return
        want = 1 + len(self.markets) * 3  # heartbeat + trade, book, ticker of each market

        def subscribed() -> bool:
            clients = json.loads(http_get(f"{self.venue_url}/control/connections"))
            return len(clients) == 1 and len(clients[0]["subscriptions"]) == want

        poll(subscribed, "the connector to be subscribed", timeout_s)

    def connector_readiness(self) -> tuple[int, Any]:
        """The connector's /readyz: (HTTP status, JSON body)."""
        assert self.connector is not None
        try:
            with urllib.request.urlopen(
                f"{self.connector.admin_url}/readyz", timeout=HTTP_TIMEOUT_S
            ) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_connector_ready(self, timeout_s: float = 20.0) -> None:
        poll(lambda: self.connector_readiness()[0] == 200, "the connector to be ready", timeout_s)

    def stop_generation(self) -> None:
        """Stall the venue for good: no trades, books, tickers or heartbeats from now on."""
        self.fault("stall", seconds=3600)

    # -- JetStream ------------------------------------------------------------------------
    def stream_state(self, name: str) -> dict[str, int]:
        """messages, first_seq, last_seq... of a stream, from nats-server's /jsz."""
        body = json.loads(http_get(f"{self.nats.monitor_url}/jsz?streams=true"))
        for account in body.get("account_details", []):
            for stream in account.get("stream_detail", []):
                if stream["name"] == name:
                    state: dict[str, int] = stream["state"]
                    return state
        raise AssertionError(f"no stream {name} on the server")

    def read_stream(self, stream: StreamName, timeout_s: float = 20.0) -> list[Message]:
        """Every message of a stream, in order, read with ``ssmd.bus``'s OrderedTail."""
        want = self.stream_state(stream.name)["messages"]
        return asyncio.run(_read_stream(self.nats.url, stream, want, timeout_s))

    # -- the archive ----------------------------------------------------------------------
    def _parquet(self, channel: str = "*") -> list[Path]:
        return sorted(self.archive_dir.glob(f"venue={self.venue}/channel={channel}/*/*/*.parquet"))

    def archived_stream_seqs(self) -> list[int]:
        """``stream_seq`` of every Parquet row (every MD event type)."""
        files = self._parquet()
        if not files:
            return []
        paths = ", ".join(f"'{path}'" for path in files)
        query = f"SELECT stream_seq FROM read_parquet([{paths}], union_by_name = true)"
        return [int(row[0]) for row in duckdb.sql(query).fetchall()]

    def archived_trades(self) -> Counter[TradeKey]:
        """Rows per (market, trade_id) in ``channel=trade``, read with plain DuckDB."""
        if not self._parquet("trade"):
            return Counter()
        glob = f"{self.archive_dir}/venue={self.venue}/channel=trade/**/*.parquet"
        query = (
            "SELECT market, trade_id, count(*) FROM "
            f"read_parquet('{glob}', hive_partitioning = true) GROUP BY ALL"
        )
        return Counter({(m, t): n for m, t, n in duckdb.sql(query).fetchall()})

    # -- ending a scenario ----------------------------------------------------------------
    def settle(self, *, quiet_s: float = 1.0) -> None:
        """Stop the venue, drain the connector (SIGTERM: it flushes its publisher), wait
        until the archive holds every message of the MD stream, then stop the archiver
        (SIGTERM: it flushes and acks what it holds). Fails on a non-zero exit."""
        assert self.connector is not None
        assert self.archiver is not None
        self.stop_generation()
        time.sleep(quiet_s)  # frames already queued reach the connector
        assert terminate(self.connector) == 0, self.log_tails()
        state = self.stream_state(self.md.name)
        want = set(range(state["first_seq"], state["last_seq"] + 1))
        assert state["messages"] == len(want), state

        def archived_all() -> bool:
            try:  # a reader may race a flush renaming files in: just look again
                return set(self.archived_stream_seqs()) == want
            except (duckdb.Error, OSError):
                return False

        poll(archived_all, f"{len(want)} MD messages in the archive", SETTLE_TIMEOUT_S)
        assert terminate(self.archiver) == 0, self.log_tails()

    def assert_trades_archived_exactly_once(self) -> Counter[TradeKey]:
        """The archive's trades are exactly the ledger's, each in one row; the ledger."""
        sent = self.sent_trades()
        archived = self.archived_trades()
        missing = sorted(set(sent) - set(archived))
        extra = sorted(set(archived) - set(sent))
        repeated = sorted((key, n) for key, n in archived.items() if n != 1)
        assert not missing, f"{len(missing)} sent trades not archived, e.g. {missing[:5]}"
        assert not extra, f"{len(extra)} archived trades never sent, e.g. {extra[:5]}"
        assert not repeated, f"{len(repeated)} trades archived twice or more: {repeated[:5]}"
        assert sum(archived.values()) == len(sent)
        seqs = self.archived_stream_seqs()
        assert len(seqs) == len(set(seqs)), "a stream message is in the archive twice"
        return sent


async def _read_stream(url: str, stream: StreamName, want: int, timeout_s: float) -> list[Message]:
    bus = await connect(
        BusSettings(urls=(url,), name="system-tests", connect_deadline_s=10.0),
        registry=CollectorRegistry(),
    )
    messages: list[Message] = []
    complete = asyncio.Event()

    async def keep(message: Message) -> None:
        messages.append(message)
        if len(messages) >= want:
            complete.set()

    tail = OrderedTail(
        bus, stream.name, stream.subjects, keep, start=TailStart.everything(), name="system-test"
    )
    task = asyncio.create_task(tail.run(), name="system-test-tail")
    try:
        if want:
            async with asyncio.timeout(timeout_s):
                await complete.wait()
    finally:
        tail.stop()
        await task
        await bus.close()
    return messages


@pytest.fixture
def env() -> str:
    """An environment token of this test alone (lowercase letters and digits)."""
    return "s" + uuid.uuid4().hex[:10]


@pytest.fixture
def mesh(nats_server: NatsServer, nats_url: str, tmp_path: Path, env: str) -> Iterator[Mesh]:
    """A Kraken Futures `Mesh` on the session's nats-server; every process it started is
    stopped after."""
    del nats_url  # requested so that a nats-server killed by an earlier test is back
    mesh = Mesh(nats_server, tmp_path, env)
    try:
        yield mesh
    finally:
        mesh.stop_all()


MeshFactory = Callable[[str], Mesh]


@pytest.fixture
def venue_mesh(
    nats_server: NatsServer, nats_url: str, tmp_path: Path, env: str
) -> Iterator[MeshFactory]:
    """``venue_mesh("kalshi")``: that venue's `Mesh`; everything is stopped after."""
    del nats_url  # requested so that a nats-server killed by an earlier test is back
    made: list[Mesh] = []

    def make(venue: str) -> Mesh:
        mesh = Mesh(nats_server, tmp_path / venue, env, PROFILES[venue])
        made.append(mesh)
        return mesh

    try:
        yield make
    finally:
        for mesh in made:
            mesh.stop_all()
