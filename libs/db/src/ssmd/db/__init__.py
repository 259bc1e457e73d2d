"""ssmd.db: the only code that talks to PostgreSQL (and imports asyncpg).

Pools whose connections work in the owning service's schema (`create_pool`), versioned SQL
migrations per schema (`migrate`), settings (`DbSettings`) and the translation of driver
errors into ssmd's error types (`translate_errors`).
"""

from ssmd.db.errors import QueryError, TransientQueryError, translate, translate_errors
from ssmd.db.identifiers import check_schema_name
from ssmd.db.migrations import Migration, MigrationError, load_migrations, migrate
from ssmd.db.pool import Connection, Pool, Record, create_pool, create_pool_from_settings
from ssmd.db.settings import DbSettings

__all__ = [
    "Connection",
    "DbSettings",
    "Migration",
    "MigrationError",
    "Pool",
    "QueryError",
    "Record",
    "TransientQueryError",
    "check_schema_name",
    "create_pool",
    "create_pool_from_settings",
    "load_migrations",
    "migrate",
    "translate",
    "translate_errors",
]
