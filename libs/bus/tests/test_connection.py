"""connect() and Bus: readiness, reconnect after a server restart, errors translated."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import Bus, BusSettings, connect
from ssmd.core.errors import UnavailableError
from ssmd.testing.servers import NatsServer, free_port

pytestmark = pytest.mark.integration


async def _until_ready(bus: Bus, timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if await bus.ready() is True:
                return
            await asyncio.sleep(0.05)


async def test_ready_is_true_when_connected_and_names_the_reason_when_closed(
    bus_settings: BusSettings,
) -> None:
    bus = await connect(bus_settings, registry=CollectorRegistry())
    assert bus.is_connected
    assert await bus.ready() is True
    await bus.drain()
    assert bus.is_closed
    assert await bus.ready() == "NATS connection closed"


async def test_connect_to_no_server_fails_with_unavailable_after_the_deadline() -> None:
    settings = BusSettings(
        urls=(f"nats://127.0.0.1:{free_port('127.0.0.1')}",),
        connect_timeout_s=0.2,
        connect_deadline_s=1.0,
    )
    with pytest.raises(UnavailableError, match="could not connect"):
        await connect(settings, registry=CollectorRegistry())


async def test_bus_reconnects_after_the_server_is_killed_and_restarted(
    bus: Bus, nats_server: NatsServer, registry: CollectorRegistry
) -> None:
    nats_server.kill()
    async with asyncio.timeout(10):
        while True:  # polling: the client notices the dead socket on its own
            if not bus.is_connected:
                break
            await asyncio.sleep(0.02)
    reason = await bus.ready()
    assert isinstance(reason, str)
    assert "disconnected" in reason

    await asyncio.to_thread(nats_server.restart)
    await _until_ready(bus)

    def count(event: str) -> float:
        value = registry.get_sample_value("ssmd_bus_connection_events_total", {"event": event})
        return value or 0.0

    assert count("disconnected") >= 1
    assert count("reconnected") >= 1
    assert registry.get_sample_value("ssmd_bus_connected") == 1
