"""The pytest plugin: leaked asyncio tasks fail a test; markers are added by fixture use.

These run a small pytest session in a subprocess so that its failures are inspected here
rather than failing this suite; the plugin loads there through its ``pytest11`` entry point.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ssmd.testing.tasks import cancel_tasks, describe_task, leaked_tasks

_INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
markers =
    unit: fast
    integration: servers
    system: end to end
    bench: speed
addopts = -p no:cacheprovider --strict-markers
filterwarnings = error
"""

_SAMPLE = """
import asyncio

import pytest


async def _forever():
    await asyncio.Event().wait()


async def test_leaky():
    asyncio.create_task(_forever(), name="orphan-reader")


async def test_clean():
    task = asyncio.create_task(_forever(), name="owned")
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_task_finishing_on_its_own_is_not_a_leak():
    asyncio.create_task(asyncio.sleep(0))


def test_sync_is_not_checked():
    pass


@pytest.mark.asyncio(loop_scope="module")
async def test_module_loop_is_not_checked():
    asyncio.create_task(_forever(), name="module-scoped")


def test_uses_nats(nats_server):
    pass


@pytest.mark.bench
def test_explicit_category():
    pass
"""


def _run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text(_INI)
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(_SAMPLE))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# These start a pytest process each: not in-process unit tests.
@pytest.mark.integration
def test_leaking_test_fails_and_names_the_task(tmp_path: Path) -> None:
    result = _run_pytest(tmp_path, "-m", "unit")
    out = result.stdout
    assert result.returncode == 1, out
    assert "ERROR test_sample.py::test_leaky" in out
    assert "test left 1 asyncio task(s) running" in out
    assert "orphan-reader: _forever" in out
    assert "PASSED test_sample.py::test_clean" in out
    assert "PASSED test_sample.py::test_task_finishing_on_its_own_is_not_a_leak" in out
    assert "PASSED test_sample.py::test_sync_is_not_checked" in out
    assert "PASSED test_sample.py::test_module_loop_is_not_checked" in out


@pytest.mark.integration
def test_server_fixture_users_are_integration_others_unit(tmp_path: Path) -> None:
    unit = _run_pytest(tmp_path, "--collect-only", "-q", "-m", "unit").stdout
    integration = _run_pytest(tmp_path, "--collect-only", "-q", "-m", "integration").stdout
    bench = _run_pytest(tmp_path, "--collect-only", "-q", "-m", "bench").stdout
    assert "test_uses_nats" not in unit
    assert "test_clean" in unit
    assert "test_explicit_category" not in unit
    assert "test_sample.py::test_uses_nats" in integration
    assert "test_clean" not in integration
    assert "test_sample.py::test_explicit_category" in bench


@pytest.mark.integration
def test_unit_marked_test_using_a_server_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "test_bad.py").write_text(
        "import pytest\n\n@pytest.mark.unit\ndef test_x(nats_url):\n    pass\n"
    )
    result = _run_pytest(tmp_path, "--collect-only", "-q", "test_bad.py")
    assert result.returncode != 0
    assert "marked unit but uses a server fixture" in result.stderr + result.stdout


async def test_leaked_tasks_sees_pending_tasks_but_not_the_caller() -> None:
    blocker = asyncio.Event()
    task = asyncio.create_task(blocker.wait(), name="pending-one")
    found = await leaked_tasks()
    assert found == [task]
    assert describe_task(task).startswith("pending-one: Event.wait (")
    await cancel_tasks(found)
    assert task.cancelled()
    assert await leaked_tasks() == []


async def test_guard_runs_after_fixture_teardown(owned_task: None) -> None:
    """A fixture that stops its task at teardown is not reported as a leak."""


@pytest.fixture
async def owned_task() -> AsyncIterator[None]:
    task = asyncio.create_task(asyncio.Event().wait(), name="fixture-owned")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
