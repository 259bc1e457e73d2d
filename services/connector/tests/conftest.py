"""Fixtures of the connector tests: simulators, in-process connectors, stream readers.

Real servers only: the session's nats-server (``ssmd.testing``), the venue simulator in this
process, and JetStream read back with ``ssmd.bus``'s own consumer. Every test gets its own
environment token, so its streams (``MD_<ENV>_KRAKEN_FUTURES``...) are its own.
The shared venue fixtures live beside the repository (``<repo>/../shared/fixtures/venues``)
unless ``SSMD_FIXTURES_DIR`` says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import Bus, BusSettings, ConsumerSpec, DurableConsumer, Message, connect
from ssmd.connector.app import Connector
from ssmd.connector.settings import ConnectorSettings
from ssmd.simulator.app import Simulator
from ssmd.simulator.settings import SimulatorSettings
from ssmd.testing.fixtures import KRAKEN_WS_CAPTURE, venue_fixture

WAIT_S = 20.0


@pytest.fixture
def ws_capture() -> Path:
    try:
        return venue_fixture(KRAKEN_WS_CAPTURE)
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def env() -> str:
    """An environment token of this test alone: its streams are its own."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def bus_settings(nats_url: str) -> BusSettings:
    return BusSettings(
        urls=(nats_url,),
        name="connector-tests",
        connect_deadline_s=10.0,
        consumer_heartbeat_s=0.5,
        consumer_expires_s=2.0,
    )


@pytest.fixture
async def bus(bus_settings: BusSettings) -> AsyncIterator[Bus]:
    """A bus of the test itself (to read streams), apart from the connector's."""
    connected = await connect(bus_settings, registry=CollectorRegistry())
    try:
        yield connected
    finally:
        await connected.close()


async def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Poll `condition` every 20 ms until true; fail naming `what` after `timeout_s`."""
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}")


SimulatorFactory = Callable[..., Awaitable[Simulator]]


@pytest.fixture
async def start_simulator() -> AsyncIterator[SimulatorFactory]:
    """Start simulators with settings overrides (port 0); all are stopped after the test."""
    started: list[Simulator] = []

    async def start(**overrides: Any) -> Simulator:
        settings = SimulatorSettings.load(**{"port": 0, **overrides})
        simulator = Simulator(settings)
        await simulator.start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        await simulator.stop()


class RunningConnector:
    """An in-process connector and its serving task."""

    def __init__(self, connector: Connector, task: asyncio.Task[None]) -> None:
        self.connector = connector
        self.task = task

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.connector.close()


ConnectorFactory = Callable[..., Awaitable[RunningConnector]]


@pytest.fixture
async def start_connector(bus_settings: BusSettings, env: str) -> AsyncIterator[ConnectorFactory]:
    """Start in-process connectors against a simulator; all are stopped after the test.

    ``wait_subscribed`` (default true) returns once the venue acknowledged every
    subscription; a ``setup`` callback sees the connector before it runs (to add book
    listeners).
    """
    running: list[RunningConnector] = []

    async def start(
        simulator: Simulator,
        *,
        wait_subscribed: bool = True,
        setup: Callable[[Connector], None] | None = None,
        **overrides: Any,
    ) -> RunningConnector:
        values: dict[str, Any] = {
            "ws_url": simulator.ws_url,
            "rest_url": simulator.url + "/derivatives/api/v3",
            "reconnect_initial_s": 0.05,
            "reconnect_max_s": 0.5,
            "watchdog_s": 30.0,
            **overrides,
        }
        connector = Connector(ConnectorSettings(**values), bus_settings=bus_settings, env=env)
        if setup is not None:
            setup(connector)
        task = asyncio.create_task(connector.run(), name="test-connector")
        entry = RunningConnector(connector, task)
        running.append(entry)
        if wait_subscribed:
            for _ in range(int(WAIT_S / 0.02)):
                if connector.subscribed or task.done():
                    break
                await asyncio.sleep(0.02)
            if task.done():
                task.result()  # raise what stopped it
            if not connector.subscribed:
                pytest.fail("connector did not subscribe in time")
        return entry

    yield start
    for entry in running:
        await entry.stop()


class StreamReader:
    """Every message of a stream (from its start) read by a durable consumer of the test."""

    def __init__(self, bus: Bus, stream: str, filter_subject: str | None = None) -> None:
        self.messages: list[Message] = []
        spec = ConsumerSpec(
            stream,
            "test_" + uuid.uuid4().hex[:8],
            filter_subjects=(filter_subject,) if filter_subject else (),
        )

        async def keep(message: Message) -> None:
            self.messages.append(message)

        self._consumer = DurableConsumer(bus, spec, keep, dead_letter_subject="dlq.tests")
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StreamReader:
        self._task = asyncio.create_task(self._consumer.run(), name="test-stream-reader")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._consumer.stop()
        if self._task is not None:
            await self._task

    def subjects(self) -> list[str]:
        return [message.subject for message in self.messages]


async def http_json(url: str, *, post: Any = None) -> Any:
    """GET (or POST `post` as JSON to) a URL of a local server; the JSON answer."""
    async with aiohttp.ClientSession() as http:
        request = http.get(url) if post is None else http.post(url, json=post)
        async with request as answer:
            answer.raise_for_status()
            return await answer.json()


# Test modules cannot import conftest at run time (importlib import mode): the helpers
# reach them through the `kit` fixture, their types under TYPE_CHECKING.
class Kit:
    """Everything an integration test needs, as one fixture."""

    def __init__(
        self,
        *,
        env: str,
        bus: Bus,
        simulator: SimulatorFactory,
        connector: ConnectorFactory,
    ) -> None:
        self.env = env
        self.bus = bus
        self.simulator = simulator
        self.connector = connector
        self.wait = wait_until
        self.http = http_json

    def reader(self, stream: str, filter_subject: str | None = None) -> StreamReader:
        """``async with kit.reader(stream) as r: ...``: the stream's messages in r.messages."""
        return StreamReader(self.bus, stream, filter_subject)


@pytest.fixture
def kit(
    env: str, bus: Bus, start_simulator: SimulatorFactory, start_connector: ConnectorFactory
) -> Kit:
    return Kit(env=env, bus=bus, simulator=start_simulator, connector=start_connector)
