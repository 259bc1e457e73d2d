"""The launchers run real servers that start, stop, crash and come back."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import nats
import pytest

from ssmd.embedded.servers import (
    NatsServer,
    PostgresServer,
    ServerError,
    ValkeyServer,
    free_port,
)

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A reaped-but-not-yet-collected zombie still answers kill(0); ask /proc.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_nats_server_starts_stops_and_logs(tmp_path: Path) -> None:
    server = NatsServer(tmp_path)
    with server:
        assert _alive(server.pid)
        assert server.url == f"nats://127.0.0.1:{server.port}"
        assert server.monitor_url == f"http://127.0.0.1:{server.monitor_port}"
        pid = server.pid
    assert not server.is_running
    assert not _alive(pid)
    assert "Server is ready" in server.log_path.read_text()


def test_kill_then_restart_keeps_port(tmp_path: Path) -> None:
    with NatsServer(tmp_path) as server:
        port, pid = server.port, server.pid
        server.kill()
        assert not server.is_running
        assert not _alive(pid)
        server.restart()
        assert server.port == port
        assert server.pid != pid


def test_start_on_busy_port_reports_log_tail(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        server = NatsServer(tmp_path, port=blocker.getsockname()[1])
        with pytest.raises(ServerError, match="in use"):
            server.start()
    assert not server.is_running


def test_store_must_be_file_or_memory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="store"):
        NatsServer(tmp_path, store="disk")  # type: ignore[arg-type]


async def test_jetstream_file_stream_survives_kill_and_restart(tmp_path: Path) -> None:
    server = NatsServer(tmp_path).start()
    try:
        client = await nats.connect(server.url)
        js = client.jetstream()
        await js.add_stream(name="SURVIVES", subjects=["survives.>"], storage="file")
        for n in range(5):
            await js.publish("survives.x", str(n).encode())
        await client.close()

        server.kill()
        server.restart()

        client = await nats.connect(server.url)
        info = await client.jetstream().stream_info("SURVIVES")
        await client.close()
        assert info.state.messages == 5
    finally:
        server.stop()


async def test_memory_store_refuses_file_streams(tmp_path: Path) -> None:
    with NatsServer(tmp_path, store="memory") as server:
        client = await nats.connect(server.url)
        try:
            js = client.jetstream()
            await js.add_stream(name="MEM", subjects=["mem.>"], storage="memory")
            with pytest.raises(nats.js.errors.APIError):
                await js.add_stream(name="DISK", subjects=["disk.>"], storage="file")
        finally:
            await client.close()


def test_nats_url_fixture_restarts_a_killed_server(nats_server: NatsServer) -> None:
    nats_server.kill()
    assert not nats_server.is_running
    assert nats_server.ensure_running().is_running


async def test_nats_url_fixture_serves_jetstream(nats_url: str) -> None:
    client = await nats.connect(nats_url)
    try:
        account = await client.jetstream().account_info()
        assert account.limits is not None
    finally:
        await client.close()


def test_valkey_server_lifecycle(tmp_path: Path) -> None:
    with ValkeyServer(tmp_path) as server:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert server.command("SET", "k", "v").startswith(b"+OK")
        server.kill()
        server.restart()
        assert server.command("PING") == b"+PONG\r\n"
        assert server.command("GET", "k") == b"$-1\r\n"  # no persistence by default


def test_valkey_url_fixture_starts_flushed(valkey_server: ValkeyServer, valkey_url: str) -> None:
    assert valkey_url == valkey_server.url
    assert valkey_server.command("DBSIZE") == b":0\r\n"
    valkey_server.command("SET", "left", "behind")


def test_valkey_persistence_survives_restart(tmp_path: Path) -> None:
    with ValkeyServer(tmp_path, persistence=True) as server:
        server.command("SET", "k", "kept")
        server.kill()
        server.restart()
        assert server.command("GET", "k") == b"$4\r\nkept\r\n"


def test_postgres_server_lifecycle(reachable_tmp_path: Path) -> None:
    with PostgresServer(reachable_tmp_path) as server:
        assert server.dsn == f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        server.create_database("made_here")
        server.kill()
        server.restart()
        with pytest.raises(ServerError, match="already exists"):
            server.create_database("made_here")  # the cluster survived the crash
        server.drop_database("made_here")


def test_postgres_rejects_odd_database_names(postgres_server: PostgresServer) -> None:
    with pytest.raises(ValueError, match="database name"):
        postgres_server.create_database("x; DROP")


def test_postgres_dsn_fixture_gives_a_database_per_test(postgres_dsn: str) -> None:
    assert postgres_dsn.rsplit("/", 1)[1].startswith("test_")


async def test_servers_stop_cleanly_from_async_code(tmp_path: Path) -> None:
    server = NatsServer(tmp_path)
    await asyncio.to_thread(server.start)
    await asyncio.to_thread(server.stop)
    assert not server.is_running
