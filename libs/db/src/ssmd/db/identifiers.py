"""Validation of the SQL identifiers ssmd builds into statements (schema names)."""

from __future__ import annotations

import re

from ssmd.core.errors import PermanentError

_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RESERVED_PREFIX = "pg_"


def check_schema_name(schema: str) -> str:
    """Return `schema` if it is a plain lower-case identifier we may create and own.

    Only ``[a-z_][a-z0-9_]*`` up to 63 characters, and not ``pg_*`` (reserved by
    PostgreSQL), so it can be put into SQL unquoted and can never inject anything.
    """
    if not _SCHEMA.fullmatch(schema) or schema.startswith(_RESERVED_PREFIX):
        raise PermanentError(
            f"schema name must match [a-z_][a-z0-9_]{{0,62}} and not start with "
            f"{_RESERVED_PREFIX!r}: {schema!r}"
        )
    return schema
