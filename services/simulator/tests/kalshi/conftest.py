"""Fixtures of the simulated Kalshi tests: the venue on a real socket, clients, RSA keys.

`KalshiVenue` serves one `KalshiExchange` on 127.0.0.1 (port 0) with its generator and
heartbeat loops running, as the simulator's app does; tests talk to it over WebSocket and
HTTP and read its ledger and state directly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from prometheus_client import CollectorRegistry

from ssmd.core.clock import LiveClock
from ssmd.simulator.kalshi.exchange import KalshiExchange
from ssmd.simulator.ledger import Ledger
from ssmd.simulator.metrics import SimulatorMetrics
from ssmd.simulator.settings import SimulatorSettings
from ssmd.venues.kalshi.config import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    REST_PATH,
    WS_PATH,
)

RECEIVE_TIMEOUT_S = 10.0


class Client:
    """A WebSocket client that keeps every text frame it received, in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[bytes] = []
        self._next_id = 1

    async def send(self, command: dict[str, Any] | str) -> None:
        text = command if isinstance(command, str) else msgspec.json.encode(command).decode()
        await self.ws.send_str(text)

    async def command(self, cmd: str, params: dict[str, Any] | None = None) -> int:
        """Send a command with the next id; return the id."""
        command_id = self._next_id
        self._next_id += 1
        body: dict[str, Any] = {"id": command_id, "cmd": cmd}
        if params is not None:
            body["params"] = params
        await self.send(body)
        return command_id

    async def receive(self, timeout_s: float = RECEIVE_TIMEOUT_S) -> bytes | None:
        """The next text frame, or None once the connection is closed."""
        message = await self.ws.receive(timeout=timeout_s)
        if message.type != aiohttp.WSMsgType.TEXT:
            return None
        frame: bytes = message.data.encode()
        self.frames.append(frame)
        return frame

    async def receive_json(self) -> dict[str, Any]:
        frame = await self.receive()
        assert frame is not None, "connection closed"
        decoded: dict[str, Any] = msgspec.json.decode(frame)
        return decoded

    async def receive_until(
        self, done: Callable[[dict[str, Any]], bool], limit: int = 10_000
    ) -> dict[str, Any]:
        """Read frames until one satisfies `done` (at most `limit` frames)."""
        for _ in range(limit):
            message = await self.receive_json()
            if done(message):
                return message
        raise AssertionError(f"no matching frame in {limit} frames")

    async def drain(self, quiet_s: float = 0.3, max_s: float = 5.0) -> list[dict[str, Any]]:
        """Every frame until none came for `quiet_s` (failing after `max_s`)."""
        got: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        while loop.time() < deadline:
            try:
                frame = await self.receive(timeout_s=quiet_s)
            except TimeoutError:
                return got
            assert frame is not None, "connection closed"
            got.append(msgspec.json.decode(frame))
        raise AssertionError(f"still receiving after {max_s} s")

    async def collect(self, seconds: float) -> list[dict[str, Any]]:
        """Every frame received in the next `seconds`."""
        got: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                frame = await self.receive(timeout_s=left)
            except TimeoutError:
                break
            assert frame is not None, "connection closed"
            got.append(msgspec.json.decode(frame))
        return got


class KalshiVenue:
    """One exchange served on a free port with its loops running."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self.clock = LiveClock()
        self.ledger = Ledger(settings.ledger_max_entries)
        self.metrics = SimulatorMetrics(CollectorRegistry())
        self.exchange = KalshiExchange(
            settings, clock=self.clock, ledger=self.ledger, metrics=self.metrics
        )
        self.app = web.Application()
        self.exchange.add_routes(self.app)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._clients: list[Client] = []
        self.port = 0

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._tasks = [
            asyncio.create_task(self.exchange.run_generator()),
            asyncio.create_task(self.exchange.run_heartbeats()),
        ]
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        for client in self._clients:
            await client.ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.exchange.close_all()
        if self._session is not None:
            await self._session.close()
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self._session is not None
        return self._session

    async def connect(self, headers: dict[str, str] | None = None, **options: Any) -> Client:
        ws = await self.http.ws_connect(
            f"ws://127.0.0.1:{self.port}{WS_PATH}", headers=headers, max_msg_size=0, **options
        )
        client = Client(ws)
        self._clients.append(client)
        return client

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        """``GET /trade-api/v2<path>``: (status, decoded JSON)."""
        query = {key: str(value) for key, value in params.items()}
        async with self.http.get(f"{self.url}{REST_PATH}{path}", params=query) as answer:
            return answer.status, msgspec.json.decode(await answer.read())


VenueFactory = Callable[..., Awaitable[KalshiVenue]]


@pytest.fixture
async def kalshi() -> AsyncIterator[VenueFactory]:
    """Start Kalshi venues with settings overrides; all are stopped after the test."""
    started: list[KalshiVenue] = []

    async def start(**overrides: Any) -> KalshiVenue:
        venue = KalshiVenue(SimulatorSettings.load(venue="kalshi", **overrides))
        await venue.start()
        started.append(venue)
        return venue

    yield start
    for venue in started:
        with contextlib.suppress(Exception):
            await venue.stop()


@pytest.fixture(scope="session")
def rsa_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[rsa.RSAPrivateKey, Path, Path]:
    """An RSA key pair: (private key, public PEM path, another key's public PEM path)."""
    folder = tmp_path_factory.mktemp("keys")
    paths = []
    private_keys = []
    for name in ("right", "other"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path = folder / f"{name}.pub.pem"
        path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        paths.append(path)
        private_keys.append(key)
    return private_keys[0], paths[0], paths[1]


Signer = Callable[[int], dict[str, str]]


@pytest.fixture
def sign(rsa_keys: tuple[rsa.RSAPrivateKey, Path, Path]) -> Signer:
    """Headers of a handshake signed with the right key at a timestamp (ms)."""
    return lambda ts_ms: signed_headers(rsa_keys[0], ts_ms)


def signed_headers(key: rsa.RSAPrivateKey, ts_ms: int, path: str = WS_PATH) -> dict[str, str]:
    """The three KALSHI-ACCESS-* headers of a request signed as the docs say."""
    message = f"{ts_ms}GET{path}".encode()
    signature = key.sign(
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )
    return {
        HEADER_KEY: "a952bcbe-ec3b-4b5b-b8f9-11dae589608c",
        HEADER_TIMESTAMP: str(ts_ms),
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }
