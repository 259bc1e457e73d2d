"""Versioned migrations against a real PostgreSQL: once, in order, locked, drift-checked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from ssmd.core.errors import PermanentError, TimeoutExpiredError
from ssmd.db import MigrationError, QueryError, create_pool, load_migrations, migrate
from ssmd.db.migrations import advisory_lock_key

ORDERS = "CREATE TABLE orders (id bigint PRIMARY KEY, venue text NOT NULL);\n"
FILLS = "CREATE TABLE fills (order_id bigint REFERENCES orders (id), qty numeric NOT NULL);\n"


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    return _write(tmp_path / "migrations", {"0001_orders.sql": ORDERS, "0002_fills.sql": FILLS})


async def _ledger(dsn: str, schema: str) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        query = f"SELECT version, name FROM {schema}.schema_migrations ORDER BY 1"  # noqa: S608 - test-chosen schema
        rows = await conn.fetch(query)
    finally:
        await conn.close()
    return [(row["version"], row["name"]) for row in rows]


async def test_migrate_applies_each_file_once_in_its_schema(
    postgres_dsn: str, migrations_dir: Path
) -> None:
    assert await migrate(postgres_dsn, schema="oms", migrations_dir=migrations_dir) == [1, 2]
    assert await migrate(postgres_dsn, schema="oms", migrations_dir=migrations_dir) == []

    assert await _ledger(postgres_dsn, "oms") == [(1, "orders"), (2, "fills")]
    conn = await asyncpg.connect(postgres_dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('oms.fills')::text") == "oms.fills"
        assert await conn.fetchval("SELECT to_regclass('public.orders')") is None
    finally:
        await conn.close()


async def test_schemas_keep_separate_ledgers(postgres_dsn: str, migrations_dir: Path) -> None:
    assert await migrate(postgres_dsn, schema="oms", migrations_dir=migrations_dir) == [1, 2]
    assert await migrate(postgres_dsn, schema="secmaster", migrations_dir=migrations_dir) == [1, 2]


async def test_a_new_file_is_applied_on_the_next_run(
    postgres_dsn: str, migrations_dir: Path
) -> None:
    await migrate(postgres_dsn, schema="oms", migrations_dir=migrations_dir)
    _write(migrations_dir, {"0003_orders_side.sql": "ALTER TABLE orders ADD side text;"})
    assert await migrate(postgres_dsn, schema="oms", migrations_dir=migrations_dir) == [3]


async def test_changed_applied_file_is_refused_by_name(
    postgres_dsn: str, migrations_dir: Path
) -> None:
    await migrate(postgres_dsn, schema="oms", migrations_dir=migrations_dir)
    (migrations_dir / "0002_fills.sql").write_text(FILLS + "-- edited in place\n")
    with pytest.raises(MigrationError, match=r"0002_fills\.sql was changed after it was applied"):
        await migrate(postgres_dsn, schema="oms", migrations_dir=migrations_dir)


async def test_new_file_below_the_newest_applied_version_is_refused(
    postgres_dsn: str, tmp_path: Path
) -> None:
    directory = _write(tmp_path / "m", {"0001_orders.sql": ORDERS, "0003_fills.sql": FILLS})
    await migrate(postgres_dsn, schema="oms", migrations_dir=directory)
    _write(directory, {"0002_late.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match=r"0002_late\.sql is new but 0003"):
        await migrate(postgres_dsn, schema="oms", migrations_dir=directory)


async def test_failing_migration_rolls_back_alone(postgres_dsn: str, tmp_path: Path) -> None:
    broken = "CREATE TABLE fills (qty numeric);\nSELECT no_such_column FROM orders;\n"
    directory = _write(tmp_path / "m", {"0001_orders.sql": ORDERS, "0002_fills.sql": broken})
    with pytest.raises(QueryError, match=r"applying migration 0002_fills\.sql") as caught:
        await migrate(postgres_dsn, schema="oms", migrations_dir=directory)
    assert caught.value.sqlstate == "42703"  # undefined_column
    assert await _ledger(postgres_dsn, "oms") == [(1, "orders")]

    (directory / "0002_fills.sql").write_text(FILLS)
    assert await migrate(postgres_dsn, schema="oms", migrations_dir=directory) == [2]


async def test_concurrent_migrators_apply_each_file_once(postgres_dsn: str, tmp_path: Path) -> None:
    # The first file sleeps so that the second migrator really waits on the advisory lock.
    directory = _write(
        tmp_path / "m",
        {"0001_orders.sql": "SELECT pg_sleep(0.3);\n" + ORDERS, "0002_fills.sql": FILLS},
    )
    pool = await create_pool(postgres_dsn, schema="oms", min_size=1, max_size=2)
    try:
        results = await asyncio.gather(
            migrate(postgres_dsn, schema="oms", migrations_dir=directory),
            migrate(pool, schema="oms", migrations_dir=directory),
            migrate(postgres_dsn, schema="oms", migrations_dir=directory),
        )
    finally:
        await pool.close()
    assert sorted(results) == [[], [], [1, 2]]
    assert await _ledger(postgres_dsn, "oms") == [(1, "orders"), (2, "fills")]


async def test_lock_wait_is_bounded(postgres_dsn: str, migrations_dir: Path) -> None:
    holder = await asyncpg.connect(postgres_dsn)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", advisory_lock_key("oms"))
        with pytest.raises(TimeoutExpiredError, match="locking migrations"):
            await migrate(
                postgres_dsn, schema="oms", migrations_dir=migrations_dir, lock_timeout_s=0.2
            )
    finally:
        await holder.close()


@pytest.mark.parametrize(
    "name",
    ["1_orders.sql", "0001-orders.sql", "0001_Orders.sql", "0001_.sql", "orders.sql"],
)
def test_badly_named_files_are_refused(tmp_path: Path, name: str) -> None:
    _write(tmp_path, {name: ORDERS})
    with pytest.raises(MigrationError, match=r"not named NNNN_description\.sql"):
        load_migrations(tmp_path)


def test_duplicate_and_zero_versions_are_refused(tmp_path: Path) -> None:
    _write(tmp_path / "dup", {"0001_a.sql": "", "0001_b.sql": ""})
    with pytest.raises(MigrationError, match="share version 0001"):
        load_migrations(tmp_path / "dup")
    _write(tmp_path / "zero", {"0000_a.sql": ""})
    with pytest.raises(MigrationError, match="start at 0001"):
        load_migrations(tmp_path / "zero")


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="does not exist"):
        load_migrations(tmp_path / "nope")


def test_load_orders_by_version_and_ignores_other_files(tmp_path: Path) -> None:
    _write(tmp_path, {"0010_b.sql": "SELECT 2;", "0002_a.sql": "SELECT 1;", "README.md": "hi"})
    loaded = load_migrations(tmp_path)
    assert [(m.version, m.name) for m in loaded] == [(2, "a"), (10, "b")]
    assert len(loaded[0].checksum) == 64


@pytest.mark.parametrize("schema", ["Oms", "pg_oms", "oms;drop", "", "1oms", "a" * 64])
async def test_bad_schema_names_are_refused_before_connecting(tmp_path: Path, schema: str) -> None:
    with pytest.raises(PermanentError, match="schema name"):
        await migrate("postgresql://nobody@127.0.0.1:1/x", schema=schema, migrations_dir=tmp_path)
