"""The simulator as a process: ``python -m ssmd.simulator`` serves, and SIGTERM drains."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from ssmd.venues.kraken_futures import requests

pytestmark = pytest.mark.system

START_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 20.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_healthy(
    http: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process
) -> None:
    for _ in range(int(START_TIMEOUT_S / 0.1)):
        if process.returncode is not None:
            pytest.fail(f"simulator exited early with {process.returncode}")
        try:
            async with http.get(url) as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    pytest.fail("simulator did not become healthy")


async def test_sigterm_closes_clients_cleanly_and_exits_zero(tmp_path: Path) -> None:
    port, admin_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "SSMD_SIMULATOR_PORT": str(port),
        "SSMD_SIMULATOR_EVENTS_PER_S": "500",
        "SSMD_RUNTIME_ADMIN_PORT": str(admin_port),
        "SSMD_RUNTIME_LOG_FORMAT": "json",
    }
    log_path = tmp_path / "simulator.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ssmd.simulator", "--seed", "5", env=env, stdout=log, stderr=log
        )
        try:
            async with aiohttp.ClientSession() as http:
                await _wait_healthy(http, f"http://127.0.0.1:{admin_port}/healthz", process)
                async with http.get(f"http://127.0.0.1:{admin_port}/readyz") as answer:
                    assert answer.status == 200
                async with http.ws_connect(f"ws://127.0.0.1:{port}/ws/v1") as ws:
                    await ws.send_str(requests.subscribe("book", ["PF_XBTUSD"]).decode())
                    for _ in range(5):
                        assert (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT
                    async with http.get(f"http://127.0.0.1:{admin_port}/metrics") as answer:
                        metrics = await answer.text()
                    assert "ssmd_simulator_frames_sent_total" in metrics
                    assert "ssmd_simulator_connections 1.0" in metrics
                    process.send_signal(signal.SIGTERM)
                    closing = None
                    for _ in range(100_000):  # drain what was in flight, then the close frame
                        message = await ws.receive(timeout=10)
                        if message.type != aiohttp.WSMsgType.TEXT:
                            closing = message
                            break
                    assert closing is not None
                    assert closing.type == aiohttp.WSMsgType.CLOSE
                    assert closing.data == aiohttp.WSCloseCode.GOING_AWAY
            assert await asyncio.wait_for(process.wait(), EXIT_TIMEOUT_S) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert b"simulator stopped" in log_path.read_bytes()
