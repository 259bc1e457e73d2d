"""Pools work in the owning schema, and driver errors arrive as ssmd errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest

from ssmd.core.errors import PermanentError, TimeoutExpiredError, UnavailableError
from ssmd.db import (
    QueryError,
    TransientQueryError,
    create_pool,
    migrate,
    translate_errors,
)
from ssmd.embedded import PostgresServer, free_port

T = TypeVar("T")


@pytest.fixture
async def oms_dsn(postgres_dsn: str, tmp_path: Path) -> str:
    (tmp_path / "0001_orders.sql").write_text(
        "CREATE TABLE orders (id bigint PRIMARY KEY, venue text NOT NULL);"
    )
    await migrate(postgres_dsn, schema="oms", migrations_dir=tmp_path)
    return postgres_dsn


async def test_unqualified_names_resolve_in_the_pool_schema(oms_dsn: str) -> None:
    pool = await create_pool(oms_dsn, schema="oms", min_size=1, max_size=1)
    try:
        # One connection, used repeatedly: the pool's RESET ALL on release keeps the path.
        for order_id in range(3):
            await pool.execute("INSERT INTO orders (id, venue) VALUES ($1, 'kalshi')", order_id)
        assert await pool.fetchval("SELECT count(*) FROM orders") == 3
        assert await pool.fetchval("SELECT current_schema()") == "oms"
        assert await pool.fetchval("SELECT count(*) FROM oms.orders") == 3
    finally:
        await pool.close()


async def test_pool_for_another_schema_does_not_see_the_table(oms_dsn: str) -> None:
    pool = await create_pool(oms_dsn, schema="secmaster")
    try:
        with pytest.raises(QueryError) as caught, translate_errors("counting orders"):
            await pool.fetchval("SELECT count(*) FROM orders")
        assert caught.value.sqlstate == "42P01"  # undefined_table
        assert "counting orders" in str(caught.value)
    finally:
        await pool.close()


async def test_unreachable_server_is_unavailable() -> None:
    with pytest.raises(UnavailableError, match="opening a connection pool"):
        await create_pool(f"postgresql://postgres@127.0.0.1:{free_port()}/x", schema="oms")


async def test_unknown_database_is_permanent(postgres_server: PostgresServer) -> None:
    postgres_server.ensure_running()
    with pytest.raises(QueryError) as caught:
        await create_pool(postgres_server.dsn_for("no_such_db"), schema="oms")
    assert caught.value.sqlstate == "3D000"


async def test_unique_violation_is_permanent_and_named(oms_dsn: str) -> None:
    pool = await create_pool(oms_dsn, schema="oms")
    try:
        await pool.execute("INSERT INTO orders VALUES (1, 'kalshi')")
        with pytest.raises(QueryError) as caught, translate_errors("inserting order 1"):
            await pool.execute("INSERT INTO orders VALUES (1, 'kalshi')")
        assert caught.value.is_unique_violation
        assert caught.value.constraint == "orders_pkey"
        assert not caught.value.retryable
    finally:
        await pool.close()


async def test_statement_timeout_is_a_timeout(oms_dsn: str) -> None:
    pool = await create_pool(oms_dsn, schema="oms")
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = '50ms'")
            with pytest.raises(TimeoutExpiredError), translate_errors("sleeping"):
                await conn.execute("SELECT pg_sleep(5)")
    finally:
        await pool.close()


async def test_command_timeout_is_a_timeout(oms_dsn: str) -> None:
    pool = await create_pool(oms_dsn, schema="oms", command_timeout_s=0.1)
    try:
        with pytest.raises(TimeoutExpiredError), translate_errors("sleeping"):
            await pool.execute("SELECT pg_sleep(5)")
    finally:
        await pool.close()


async def test_serialization_failure_is_transient(oms_dsn: str) -> None:
    pool = await create_pool(oms_dsn, schema="oms", max_size=2)
    try:
        await pool.execute("INSERT INTO orders VALUES (1, 'kalshi')")
        async with pool.acquire() as first, pool.acquire() as second:
            transaction = first.transaction(isolation="repeatable_read")
            await transaction.start()
            await first.fetchval("SELECT venue FROM orders WHERE id = 1")
            await second.execute("UPDATE orders SET venue = 'polymarket' WHERE id = 1")
            with pytest.raises(TransientQueryError) as caught, translate_errors("updating"):
                await first.execute("UPDATE orders SET venue = 'x' WHERE id = 1")
            await transaction.rollback()
        assert caught.value.sqlstate == "40001"
        assert caught.value.retryable
    finally:
        await pool.close()


async def test_nowait_lock_conflict_is_transient(oms_dsn: str) -> None:
    pool = await create_pool(oms_dsn, schema="oms", max_size=2)
    try:
        await pool.execute("INSERT INTO orders VALUES (1, 'kalshi')")
        async with pool.acquire() as first, pool.acquire() as second, first.transaction():
            await first.execute("SELECT * FROM orders WHERE id = 1 FOR UPDATE")
            with pytest.raises(TransientQueryError), translate_errors("locking"):
                async with second.transaction():
                    await second.execute("SELECT * FROM orders WHERE id = 1 FOR UPDATE NOWAIT")
    finally:
        await pool.close()


async def test_server_crash_mid_use_is_unavailable(reachable_tmp_path: Path) -> None:
    with PostgresServer(reachable_tmp_path) as server:
        pool = await create_pool(server.dsn, schema="oms", max_size=1)
        try:
            await pool.fetchval("SELECT 1")
            server.kill()
            with pytest.raises(UnavailableError), translate_errors("after the crash"):
                await pool.fetchval("SELECT 1")
            server.restart()
            # The pool replaces the broken connection once the server is back.
            assert await _eventually(lambda: pool.fetchval("SELECT 2")) == 2
        finally:
            await pool.close()


async def _eventually(query: Callable[[], Awaitable[T]], attempts: int = 50) -> T:
    for _ in range(attempts):
        try:
            with translate_errors("retrying"):
                return await query()
        except UnavailableError:
            await asyncio.sleep(0.1)
    raise AssertionError("query never succeeded")


def test_translate_errors_passes_other_exceptions_through() -> None:
    with pytest.raises(KeyError), translate_errors("lookup"):
        raise KeyError("k")


def test_translate_errors_maps_driver_misuse_to_permanent() -> None:
    with pytest.raises(PermanentError, match="lookup: InterfaceError"), translate_errors("lookup"):
        raise asyncpg.InterfaceError("cannot perform operation: another operation is in progress")
