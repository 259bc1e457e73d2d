"""`DbSettings`: how a service reaches PostgreSQL and sizes its connection pool.

Read from ``SSMD_DB_*`` environment variables or the ``[db]`` table of the settings file.
The schema is not a setting: each service owns one schema, named in its code.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from ssmd.core.settings import SsmdSettings

LOCAL_MESH_DSN = "postgresql://postgres@127.0.0.1:5432/ssmd"


class DbSettings(SsmdSettings):
    """Connection and pool settings of `ssmd.db`."""

    section = "db"

    dsn: SecretStr = Field(
        SecretStr(LOCAL_MESH_DSN),
        description=(
            "PostgreSQL DSN (postgresql://user:password@host:port/database). Secret: it may "
            f"hold a password, so it is masked in logs. Default {LOCAL_MESH_DSN}, the "
            "database that `ssmd up` serves on this machine."
        ),
    )
    pool_min_size: int = Field(
        1,
        ge=0,
        le=1000,
        description=(
            "Connections the pool opens at start and keeps open. Default 1: start-up fails "
            "fast on a wrong DSN, and an idle service holds one connection only."
        ),
    )
    pool_max_size: int = Field(
        10,
        ge=1,
        le=1000,
        description=(
            "Most connections the pool opens at once; more callers wait for a free one. "
            "Default 10: ample for one asyncio service, and a dozen services stay well "
            "under PostgreSQL's default max_connections of 100."
        ),
    )
    command_timeout_s: float = Field(
        30.0,
        gt=0,
        description=(
            "Seconds one statement may run before the client cancels it "
            "(TimeoutExpiredError). Default 30 s: service queries take milliseconds, so "
            "this only stops a runaway query or a lock wait from hanging a handler."
        ),
    )
    connect_timeout_s: float = Field(
        10.0,
        gt=0,
        description=(
            "Seconds to wait for one new connection (TCP + authentication) before it counts "
            "as unavailable. Default 10 s: a healthy server answers in milliseconds."
        ),
    )

    @field_validator("pool_max_size")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        min_size = info.data.get("pool_min_size")
        if min_size is not None and value < min_size:
            raise ValueError(f"must be at least pool_min_size ({min_size})")
        return value
