"""Connection pools: one per service, every connection working in the service's schema.

The search path (``<schema>, public``) is sent as a start-up parameter rather than set by a
``SET`` in an init hook: start-up parameters are the session defaults, so the pool's
``RESET ALL`` on release keeps them.
"""

from __future__ import annotations

import logging
from typing import TypeAlias

import asyncpg
from pydantic import SecretStr

from ssmd.db.errors import translate_errors
from ssmd.db.identifiers import check_schema_name
from ssmd.db.settings import DbSettings

log = logging.getLogger(__name__)

# A string: asyncpg.Pool is generic only in its type stubs, not at run time.
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
Connection: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
"""A connection acquired from a `Pool` (``async with pool.acquire() as conn``)."""
Record: TypeAlias = asyncpg.Record
"""A result row: ``row["column"]``."""


def dsn_text(dsn: str | SecretStr) -> str:
    """The DSN as a plain string (settings keep it as a SecretStr)."""
    return dsn.get_secret_value() if isinstance(dsn, SecretStr) else dsn


async def create_pool(
    dsn: str | SecretStr,
    *,
    schema: str,
    min_size: int = 1,
    max_size: int = 10,
    command_timeout_s: float = 30.0,
    connect_timeout_s: float = 10.0,
) -> Pool:
    """Open a pool whose connections use `schema` (then ``public``) for unqualified names.

    Raises `UnavailableError` when the server cannot be reached and `QueryError` when it
    refuses us (unknown database, bad credentials). The caller closes the pool.
    """
    check_schema_name(schema)
    with translate_errors(f"opening a connection pool for schema {schema}"):
        pool = await asyncpg.create_pool(
            dsn_text(dsn),
            min_size=min_size,
            max_size=max_size,
            command_timeout=command_timeout_s,
            timeout=connect_timeout_s,
            server_settings={"search_path": f"{schema}, public"},
        )
    log.info("database pool for schema %s open (%d..%d connections)", schema, min_size, max_size)
    return pool


async def create_pool_from_settings(settings: DbSettings, *, schema: str) -> Pool:
    """`create_pool` with the sizes and timeouts of `settings`."""
    return await create_pool(
        settings.dsn,
        schema=schema,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        command_timeout_s=settings.command_timeout_s,
        connect_timeout_s=settings.connect_timeout_s,
    )
