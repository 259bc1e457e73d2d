"""The connector as a process: ``python -m ssmd.connector`` serves, and SIGTERM drains."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import msgspec
import pytest

from ssmd.contracts.subjects import md_stream
from ssmd.embedded import ServiceProcess

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = pytest.mark.system

EXIT_TIMEOUT_S = 30.0


async def test_connector_process_serves_then_exits_zero_on_sigterm(
    kit: Kit, nats_url: str, tmp_path: Path
) -> None:
    simulator = await kit.simulator(events_per_s=500)
    process = ServiceProcess(
        "ssmd.connector",
        tmp_path,
        env={
            "SSMD_RUNTIME_ENV": kit.env,
            "SSMD_RUNTIME_LOG_FORMAT": "json",
            "SSMD_BUS_URLS": nats_url,
            "SSMD_CONNECTOR_WS_URL": simulator.ws_url,
            "SSMD_CONNECTOR_REST_URL": simulator.url + "/derivatives/api/v3",
            "SSMD_CONNECTOR_MARKETS": msgspec.json.encode(["PF_XBTUSD", "PF_ETHUSD"]).decode(),
            "SSMD_CONNECTOR_CHANNELS": '["book", "trade"]',
        },
        wait_ready=True,  # /readyz: NATS connected and every subscription acknowledged
    )
    # start() polls /readyz with blocking sleeps; the simulator must keep serving meanwhile.
    await asyncio.to_thread(process.start)
    try:
        admin = process.admin_url
        metrics = await _text(f"{admin}/metrics")
        assert "ssmd_connector_frames_total" in metrics
        assert "ssmd_bus_published_total" in metrics
        book = await kit.http(f"{admin}/debug/book?market=PF_XBTUSD&depth=5")
        assert book["market"] == "kraken_futures:PF_XBTUSD"
        assert book["synced"] is True
        assert 0 < len(book["bids"]) <= 5
        markets = await kit.http(f"{admin}/debug/markets")
        assert {row["market"] for row in markets["markets"]} == {
            "kraken_futures:PF_XBTUSD",
            "kraken_futures:PF_ETHUSD",
        }
        async with kit.reader(md_stream(kit.env, "kraken_futures").name) as md:
            await kit.wait(lambda: len(md.messages) > 10, "events in JetStream")
        os.kill(process.pid, signal.SIGTERM)
        for _ in range(int(EXIT_TIMEOUT_S / 0.05)):
            if process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert process.returncode == 0, process.log_tail()
        assert "connector stopped" in process.log_tail()
    finally:
        await asyncio.to_thread(process.stop)


async def _text(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        answer.raise_for_status()
        return await answer.text()
