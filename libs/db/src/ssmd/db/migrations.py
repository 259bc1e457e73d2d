"""Versioned SQL migrations, one ledger per schema.

A service keeps ``NNNN_description.sql`` files in a directory and calls `migrate` at start.
Each pending file runs in its own transaction, with ``search_path`` set to the schema so
plain ``CREATE TABLE orders`` lands there, and is recorded in ``<schema>.schema_migrations``
in that same transaction. A PostgreSQL advisory lock keyed by the schema serialises
migrators, so replicas starting together apply each file exactly once. A file that was
applied and has since changed is refused (edit history by adding a file, never in place).
Statements that cannot run inside a transaction (CREATE INDEX CONCURRENTLY) are not supported.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import asyncpg
from pydantic import SecretStr

from ssmd.core.errors import PermanentError
from ssmd.db.errors import translate_errors
from ssmd.db.identifiers import check_schema_name
from ssmd.db.pool import Pool, dsn_text

log = logging.getLogger(__name__)

MIGRATION_NAME = re.compile(r"(?P<version>\d{4})_(?P<name>[a-z0-9][a-z0-9_]*)\.sql")
LEDGER_TABLE = "schema_migrations"
_LOCK_NAMESPACE = b"ssmd.db.migrate:"


# A connection of our own or one borrowed from a pool; both run the same statements.
_Connection: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)


class MigrationError(PermanentError):
    """The migration files or the ledger are inconsistent; a person must fix them."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: its version, description, SQL text and SHA-256 of its bytes."""

    version: int
    name: str
    path: Path
    sql: str
    checksum: str


def load_migrations(migrations_dir: Path) -> list[Migration]:
    """Read every ``*.sql`` file of `migrations_dir`, ordered by version.

    Any ``.sql`` file not named ``NNNN_description.sql`` (lower-case description), version
    0000, or two files with one version raise `MigrationError`. Other files are ignored.
    """
    if not migrations_dir.is_dir():
        raise MigrationError(f"migrations directory {migrations_dir} does not exist")
    by_version: dict[int, Migration] = {}
    for path in sorted(migrations_dir.glob("*.sql")):
        match = MIGRATION_NAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(
                f"migration file {path.name} is not named NNNN_description.sql "
                "(four digits, underscore, lower-case letters, digits and underscores)"
            )
        version = int(match["version"])
        if version == 0:
            raise MigrationError(f"migration file {path.name}: versions start at 0001")
        if version in by_version:
            raise MigrationError(
                f"migration files {by_version[version].path.name} and {path.name} "
                f"share version {version:04d}"
            )
        data = path.read_bytes()
        by_version[version] = Migration(
            version=version,
            name=match["name"],
            path=path,
            sql=data.decode(),
            checksum=hashlib.sha256(data).hexdigest(),
        )
    return [by_version[version] for version in sorted(by_version)]


def advisory_lock_key(schema: str) -> int:
    """The signed 64-bit advisory lock key that serialises migrations of `schema`."""
    digest = hashlib.sha256(_LOCK_NAMESPACE + schema.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def migrate(
    target: str | SecretStr | Pool,
    *,
    schema: str,
    migrations_dir: Path,
    lock_timeout_s: float = 120.0,
) -> list[int]:
    """Apply the pending migrations of `migrations_dir` to `schema`; return their versions.

    `target` is a DSN (a connection is opened and closed) or a pool (one connection is
    borrowed). Creates the schema and its ledger if missing. Waits at most
    `lock_timeout_s` for another migrator of the same schema (then TimeoutExpiredError).
    """
    check_schema_name(schema)
    migrations = load_migrations(migrations_dir)
    async with _connection(target, schema) as conn:
        with translate_errors(f"locking migrations of schema {schema}"):
            await conn.execute(
                "SELECT pg_advisory_lock($1)", advisory_lock_key(schema), timeout=lock_timeout_s
            )
        try:
            return await _migrate_locked(conn, schema, migrations)
        finally:
            # Best effort: the lock also ends with the session (closing our connection, or
            # the pool's reset on release), and a failure here must not hide the real one.
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await conn.execute("SELECT pg_advisory_unlock($1)", advisory_lock_key(schema))


async def _migrate_locked(conn: _Connection, schema: str, migrations: list[Migration]) -> list[int]:
    ledger = f"{schema}.{LEDGER_TABLE}"
    with translate_errors(f"reading the migration ledger of schema {schema}"):
        await conn.execute(
            f"CREATE SCHEMA IF NOT EXISTS {schema};"
            f"CREATE TABLE IF NOT EXISTS {ledger} ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch(f"SELECT version, checksum FROM {ledger}")  # noqa: S608 - schema checked
    applied = {int(row["version"]): str(row["checksum"]) for row in rows}
    _check_history(schema, migrations, applied)
    newest_applied = max(applied, default=0)
    done: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        if migration.version < newest_applied:
            raise MigrationError(
                f"migration {migration.path.name} is new but {newest_applied:04d} is already "
                f"applied to schema {schema}; give it a version above {newest_applied:04d}"
            )
        with translate_errors(f"applying migration {migration.path.name} to schema {schema}"):
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('search_path', $1, true)", f"{schema}, public"
                )
                await conn.execute(migration.sql)
                await conn.execute(
                    f"INSERT INTO {ledger} (version, name, checksum) VALUES ($1, $2, $3)",  # noqa: S608 - schema checked
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        log.info("applied migration %s to schema %s", migration.path.name, schema)
        done.append(migration.version)
    return done


def _check_history(schema: str, migrations: list[Migration], applied: dict[int, str]) -> None:
    known = {migration.version for migration in migrations}
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise MigrationError(
                f"migration {migration.path.name} was changed after it was applied to schema "
                f"{schema} (checksum {recorded[:12]}… in the ledger, {migration.checksum[:12]}… "
                "on disk); restore it and add a new migration instead"
            )
    for version in sorted(set(applied) - known):
        log.warning("schema %s has migration %04d applied but no file for it", schema, version)


@contextlib.asynccontextmanager
async def _connection(target: str | SecretStr | Pool, schema: str) -> AsyncIterator[_Connection]:
    if isinstance(target, asyncpg.Pool):
        with translate_errors(f"borrowing a connection to migrate schema {schema}"):
            borrowed = await target.acquire()
        try:
            yield borrowed
        finally:
            await target.release(borrowed)
        return
    with translate_errors(f"connecting to migrate schema {schema}"):
        own = await asyncpg.connect(dsn_text(target))
    try:
        yield own
    finally:
        await own.close()
