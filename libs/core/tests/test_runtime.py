"""The service runtime: admin endpoints, readiness, task failure and graceful SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import Counter

from ssmd.core.runtime import Service

EXAMPLE = Path(__file__).with_name("example_service.py")


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


@pytest.mark.unit
async def test_admin_endpoints_report_health_readiness_and_metrics() -> None:
    service = Service("svc")
    hits = Counter("svc_hits_total", "hits", registry=service.registry)
    hits.inc(3)
    dependency_up = False

    async def dependency() -> bool | str:
        return True if dependency_up else "nats: not connected"

    service.add_check("nats", dependency)
    runner = asyncio.create_task(service.run(install_signal_handlers=False))
    while service.admin_port is None:  # noqa: ASYNC110 - polling a plain attribute
        await asyncio.sleep(0.01)
    base = service.admin_url

    status, body = await _get(f"{base}/healthz")
    assert (status, '"ok"' in body) == (200, True)
    status, body = await _get(f"{base}/readyz")
    assert status == 503
    assert "nats: not connected" in body
    dependency_up = True
    status, body = await _get(f"{base}/readyz")
    assert status == 200
    status, body = await _get(f"{base}/metrics")
    assert status == 200
    assert "svc_hits_total 3.0" in body

    service.request_stop()
    assert await runner == 0


@pytest.mark.unit
async def test_slow_check_times_out_with_reason() -> None:
    service = Service("svc", check_timeout_s=0.05)

    async def hangs() -> bool:
        await asyncio.sleep(10)
        return True

    service.add_check("db", hangs)
    ready, results = await service.readiness()
    assert not ready
    assert results["db"].startswith("timed out")


@pytest.mark.unit
async def test_failed_task_fails_the_service_and_shutdown_steps_still_run() -> None:
    service = Service("svc")
    steps: list[str] = []

    async def crash() -> None:
        raise RuntimeError("boom")

    async def first() -> None:
        steps.append("first")

    async def second() -> None:
        steps.append("second")

    service.add_task("crash", crash)
    service.on_shutdown("first", first)
    service.on_shutdown("second", second)
    assert await service.run(install_signal_handlers=False) == 1
    assert steps == ["second", "first"]


def _start_example(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], Path]:
    state = tmp_path / "state.txt"
    full_env = {**os.environ, "SSMD_EXAMPLE_STATE_FILE": str(state)}
    full_env.update({f"SSMD_EXAMPLE_{k.upper()}": v for k, v in env.items()})
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE)],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return process, state


def _wait_for_url(process: subprocess.Popen[bytes], state: Path) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if state.exists() and state.read_text().strip():
            return state.read_text().splitlines()[0]
        if process.poll() is not None:
            pytest.fail(f"service exited early: {process.communicate()[1].decode()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail("service did not start in 20 s")


@pytest.mark.system
async def test_sigterm_drains_and_exits_zero(tmp_path: Path) -> None:
    process, state = _start_example(tmp_path)
    try:
        url = _wait_for_url(process, state)
        status, _ = await _get(f"{url}/readyz")
        assert status == 200
        status, body = await _get(f"{url}/metrics")
        assert "example_ticks_total" in body
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.to_thread(process.communicate, timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()
    assert state.read_text().splitlines()[-1] == "drained"
    assert b'"msg": "received SIGTERM: draining"' in stderr


@pytest.mark.system
def test_bad_setting_stops_start_up_naming_the_field(tmp_path: Path) -> None:
    process, _ = _start_example(tmp_path, tick_s="-1")
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 2
    text = stderr.decode()
    assert "tick_s" in text
    assert "SSMD_EXAMPLE_TICK_S" in text


@pytest.mark.system
def test_crashing_task_exits_nonzero_after_draining(tmp_path: Path) -> None:
    process, state = _start_example(tmp_path, fail_after_ticks="3")
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 1, stderr.decode()
    assert "simulated crash" in stderr.decode()
    assert state.read_text().splitlines()[-1] == "drained"
