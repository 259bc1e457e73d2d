"""The gateway as a process: ``python -m ssmd.gateway`` serves, and SIGTERM exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ssmd.embedded import ServiceProcess, free_port

pytestmark = pytest.mark.system

EXIT_TIMEOUT_S = 20.0
MARKET = "kraken_futures:PF_XBTUSD"
T0 = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z


async def test_sigterm_drains_and_exits_zero(
    nats_url: str, archive_dir: Path, tmp_path: Path, kit: Any
) -> None:
    kit.write_archive(archive_dir, [kit.trade(T0 + i, seq=i) for i in range(3)])
    port = free_port()
    process = ServiceProcess(
        "ssmd.gateway",
        tmp_path / "gateway",
        env={
            "SSMD_BUS_URLS": nats_url,
            "SSMD_GATEWAY_PORT": str(port),
            "SSMD_GATEWAY_ARCHIVE_DIR": str(archive_dir),
            "SSMD_GATEWAY_VENUES": "kraken_futures",
            "SSMD_RUNTIME_ENV": "proc",
            "SSMD_RUNTIME_LOG_FORMAT": "json",
        },
        wait_ready=True,
    )
    await asyncio.to_thread(process.start)
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/v1/trades"
            query = {"market": MARKET, "start": str(T0), "end": str(T0 + 10**9)}
            async with http.get(url, params=query) as answer:
                assert answer.status == 200
                assert (await answer.json())["count"] == 3
            # The keep-alive connection is still open when SIGTERM comes.
            os.kill(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + EXIT_TIMEOUT_S
            while time.monotonic() < deadline:
                if process.returncode is not None:
                    break
                await asyncio.sleep(0.05)
        assert process.returncode == 0, process.log_tail()
        assert "service gateway stopped" in process.log_tail()
    finally:
        await asyncio.to_thread(process.stop)
