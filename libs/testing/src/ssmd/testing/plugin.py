"""The ``ssmd`` pytest plugin (entry point ``pytest11``): servers, leak guard, markers.

Fixtures:
- ``nats_server``, ``postgres_server``, ``valkey_server`` (session): real servers started
  lazily the first time a test asks for one, stopped at the end of the session.
- ``nats_url``, ``postgres_dsn``, ``valkey_url`` (function): make sure the server is up
  (a fault test may have killed it) and hand out a clean place to work: a fresh database
  per test for Postgres, a flushed keyspace for Valkey. JetStream state is shared across
  a session, so tests name their streams uniquely.
- ``reachable_tmp_path`` (function): a temp dir for a test's own `PostgresServer`.

Every asyncio test that leaves tasks running fails at teardown, naming the tasks.
Tests that use a server fixture are marked ``integration``; tests with no category marker
are marked ``unit``, so ``pytest -m unit`` runs the fast, server-free set.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from ssmd.embedded.nats import NatsServer
from ssmd.embedded.postgres import PostgresServer
from ssmd.embedded.valkey import ValkeyServer
from ssmd.testing.tasks import cancel_tasks, describe_task, leaked_tasks

CATEGORY_MARKERS = frozenset({"unit", "integration", "system", "bench"})
SERVER_FIXTURES = frozenset(
    {
        "nats_server",
        "nats_url",
        "postgres_server",
        "postgres_dsn",
        "valkey_server",
        "valkey_url",
    }
)

# -- servers -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A nats-server with file-storage JetStream, shared by the session."""
    with NatsServer(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    """URL of the session's nats-server, restarted first if a previous test killed it."""
    return nats_server.ensure_running().url


@pytest.fixture
def reachable_tmp_path() -> Iterator[Path]:
    """A fresh temp dir outside pytest's tree, removed after the test.

    For a test that starts a `PostgresServer` of its own (to crash it, say): as root the
    server runs as another user, who cannot reach pytest's tree once any pytest session
    starts and makes ``/tmp/pytest-of-<user>`` private again.
    """
    path = Path(tempfile.mkdtemp(prefix="ssmd-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server shared by the session (fsync off: test data is disposable).

    Its data dir is not under pytest's temp tree: as root, PostgreSQL runs as another user
    who must be able to reach the dir, and every pytest session that starts (ours or a
    concurrent one) makes ``/tmp/pytest-of-<user>`` private again.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="ssmd-test-postgres-"))
    try:
        with PostgresServer(data_dir) as server:
            yield server
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


_database_numbers = itertools.count(1)


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """DSN of a database created for this test alone, dropped after it."""
    postgres_server.ensure_running()
    name = f"test_{next(_database_numbers)}"
    postgres_server.create_database(name)
    yield postgres_server.dsn_for(name)
    if postgres_server.is_running:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def valkey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyServer]:
    """A Valkey server shared by the session, without persistence."""
    with ValkeyServer(tmp_path_factory.mktemp("valkey")) as server:
        yield server


@pytest.fixture
def valkey_url(valkey_server: ValkeyServer) -> str:
    """URL of the session's Valkey, running and with every key deleted."""
    valkey_server.ensure_running().flush_all()
    return valkey_server.url


# -- task leaks --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _ssmd_no_leaked_tasks(request: pytest.FixtureRequest) -> None:
    """Arm the leak guard for asyncio tests whose event loop lives only for the test.

    Autouse fixtures set up first, so the guard it requests tears down last: after the
    test's own fixtures have stopped whatever they own. Tests on a wider loop scope share
    their loop with other tests, so their pending tasks are not this test's leaks.
    """
    if _runs_on_function_loop(request.node):
        request.getfixturevalue("_ssmd_task_leak_guard")


@pytest.fixture
async def _ssmd_task_leak_guard() -> AsyncIterator[None]:
    """After the test: cancel any tasks still pending and fail the test naming them."""
    yield
    leaked = await leaked_tasks()
    if leaked:
        names = "\n".join(f"  - {describe_task(task)}" for task in leaked)
        await cancel_tasks(leaked)
        pytest.fail(
            f"test left {len(leaked)} asyncio task(s) running (each task needs an owner "
            f"that stops it):\n{names}",
            pytrace=False,
        )


def _runs_on_function_loop(item: pytest.Item) -> bool:
    if not pytest_asyncio.is_async_test(item):
        return False
    marker = item.get_closest_marker("asyncio")
    scope = marker.kwargs.get("loop_scope") if marker else None
    scope = scope or item.config.getini("asyncio_default_test_loop_scope") or "function"
    return bool(scope == "function")


# -- markers -----------------------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark server users ``integration`` and uncategorised tests ``unit``."""
    for item in items:
        categories = {mark.name for mark in item.iter_markers() if mark.name in CATEGORY_MARKERS}
        uses_servers = bool(SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())))
        if uses_servers and "unit" in categories:
            raise pytest.UsageError(
                f"{item.nodeid} is marked unit but uses a server fixture; mark it integration"
            )
        if uses_servers and not categories:
            item.add_marker(pytest.mark.integration)
        elif not categories:
            item.add_marker(pytest.mark.unit)
