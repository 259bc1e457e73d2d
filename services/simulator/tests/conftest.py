"""Fixtures of the simulator tests: an in-process simulator and a recording client.

The shared venue fixtures live beside the repository (``<repo>/../shared/fixtures/venues``)
unless ``SSMD_FIXTURES_DIR`` says otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from ssmd.simulator.app import Simulator
from ssmd.simulator.settings import SimulatorSettings
from ssmd.testing.fixtures import KRAKEN_WS_CAPTURE, venue_fixture

RECEIVE_TIMEOUT_S = 10.0


@pytest.fixture
def ws_capture() -> Path:
    try:
        return venue_fixture(KRAKEN_WS_CAPTURE)
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


class Client:
    """A WebSocket client that keeps every frame it received, in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[bytes] = []

    async def send(self, request: dict[str, Any] | str | bytes) -> None:
        if isinstance(request, dict):
            request = msgspec.json.encode(request)
        await self.ws.send_str(request.decode() if isinstance(request, bytes) else request)

    async def receive(self) -> bytes | None:
        """The next text frame, or None once the connection is closed."""
        message = await self.ws.receive(timeout=RECEIVE_TIMEOUT_S)
        if message.type != aiohttp.WSMsgType.TEXT:
            return None
        frame = message.data.encode()
        self.frames.append(frame)
        return frame

    async def receive_json(self) -> dict[str, Any]:
        frame = await self.receive()
        assert frame is not None, "connection closed"
        decoded: dict[str, Any] = msgspec.json.decode(frame)
        return decoded

    async def receive_until(
        self, done: Callable[[dict[str, Any]], bool], limit: int
    ) -> dict[str, Any]:
        """Read frames until one satisfies `done` (at most `limit` frames)."""
        for _ in range(limit):
            message = await self.receive_json()
            if done(message):
                return message
        raise AssertionError(f"no matching frame in {limit} frames")


SimulatorFactory = Callable[..., Awaitable[Simulator]]
ClientFactory = Callable[[Simulator], Awaitable[Client]]


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


@pytest.fixture
async def connect() -> AsyncIterator[ClientFactory]:
    """Open WebSocket clients to a simulator; all are closed after the test."""
    session = aiohttp.ClientSession()
    clients: list[Client] = []

    async def open_client(simulator: Simulator) -> Client:
        ws = await session.ws_connect(simulator.ws_url, max_msg_size=0)
        client = Client(ws)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.ws.close()
    await session.close()
    await asyncio.sleep(0)  # let the connector's close callbacks run
