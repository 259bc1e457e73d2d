"""DbSettings: documented defaults, env overrides, secrets kept out of logs."""

from __future__ import annotations

import os

import pytest

from ssmd.core.errors import ConfigError, PermanentError
from ssmd.db import DbSettings, check_schema_name
from ssmd.db.settings import LOCAL_MESH_DSN


def test_defaults_point_at_the_local_mesh(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("SSMD_")]:
        monkeypatch.delenv(key)
    settings = DbSettings.load()
    assert settings.dsn.get_secret_value() == LOCAL_MESH_DSN
    assert (settings.pool_min_size, settings.pool_max_size) == (1, 10)


def test_environment_overrides_and_dsn_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_DB_DSN", "postgresql://oms:hunter2@db:5432/ssmd")
    monkeypatch.setenv("SSMD_DB_POOL_MAX_SIZE", "4")
    settings = DbSettings.load()
    assert settings.pool_max_size == 4
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.redacted())


def test_max_below_min_is_rejected() -> None:
    with pytest.raises(ConfigError, match="pool_max_size"):
        DbSettings.load(pool_min_size=5, pool_max_size=2)


def test_unknown_db_setting_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_DB_POOL_SIZE", "3")
    with pytest.raises(ConfigError, match="SSMD_DB_POOL_SIZE"):
        DbSettings.load()


def test_every_field_is_documented() -> None:
    for env_name, _default, description in DbSettings.describe():
        assert env_name.startswith("SSMD_DB_")
        assert "Default" in description, env_name


@pytest.mark.parametrize("schema", ["oms", "secmaster", "_x1"])
def test_plain_schema_names_pass(schema: str) -> None:
    assert check_schema_name(schema) == schema


@pytest.mark.parametrize("schema", ["Oms", "pg_catalog", "a-b", "a b", "x" * 64])
def test_other_schema_names_are_refused(schema: str) -> None:
    with pytest.raises(PermanentError):
        check_schema_name(schema)
