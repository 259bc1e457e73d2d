"""Fixtures of the bus tests: a connected Bus per test, on the session's nats-server.

The server comes from the ``ssmd.testing`` plugin (``nats_url`` restarts it if an earlier
test killed it). JetStream state is shared by the session, so each test names its
streams and subjects with `unique`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from prometheus_client import CollectorRegistry

from ssmd.bus import Bus, BusSettings, connect

_counter = itertools.count(1)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """``unique("ORDERS")`` -> ``ORDERS_3_1a2b3c``: a name no other test uses."""
    run = uuid.uuid4().hex[:6]

    def make(prefix: str) -> str:
        return f"{prefix}_{next(_counter)}_{run}"

    return make


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def bus_settings(nats_url: str) -> BusSettings:
    return BusSettings(
        urls=(nats_url,),
        name="ssmd-bus-tests",
        connect_deadline_s=10.0,
        reconnect_initial_s=0.05,
        reconnect_max_s=0.5,
        consumer_heartbeat_s=0.5,
        consumer_expires_s=2.0,
    )


@pytest.fixture
async def bus(bus_settings: BusSettings, registry: CollectorRegistry) -> AsyncIterator[Bus]:
    connected = await connect(bus_settings, registry=registry)
    try:
        yield connected
    finally:
        await connected.close()
