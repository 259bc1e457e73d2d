"""ArchiverSettings: environment names, defaults, documentation and the cross-field rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmd.archiver.settings import ArchiverSettings
from ssmd.core.errors import ConfigError

pytestmark = pytest.mark.unit


def test_every_field_is_documented_with_its_env_variable() -> None:
    rows = ArchiverSettings.describe()
    assert {name for name, _, _ in rows} == {
        "SSMD_ARCHIVER_ARCHIVE_DIR",
        "SSMD_ARCHIVER_VENUES",
        "SSMD_ARCHIVER_INCLUDE_RAW",
        "SSMD_ARCHIVER_FLUSH_ROWS",
        "SSMD_ARCHIVER_FLUSH_INTERVAL_S",
        "SSMD_ARCHIVER_MAX_BUFFERED_ROWS",
        "SSMD_ARCHIVER_FETCH_BATCH",
        "SSMD_ARCHIVER_ACK_WAIT_S",
        "SSMD_ARCHIVER_MANIFEST_COMPACT_EVERY",
    }
    assert all(len(description) > 40 and "Default" in description for _, _, description in rows)


def test_environment_configures_the_archiver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_ARCHIVER_ARCHIVE_DIR", "/data/archive")
    monkeypatch.setenv("SSMD_ARCHIVER_VENUES", "kalshi, kraken_futures")
    monkeypatch.setenv("SSMD_ARCHIVER_INCLUDE_RAW", "false")
    monkeypatch.setenv("SSMD_ARCHIVER_FLUSH_ROWS", "1000")
    settings = ArchiverSettings.load()
    assert settings.archive_dir == Path("/data/archive")
    assert settings.venues == ("kalshi", "kraken_futures")
    assert not settings.include_raw
    assert settings.flush_rows == 1000
    assert settings.max_buffered_rows == 100_000


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("SSMD_ARCHIVER_VENUES", "Kraken", "venues"),
        ("SSMD_ARCHIVER_VENUES", "kalshi,kalshi", "venues"),
        ("SSMD_ARCHIVER_MAX_BUFFERED_ROWS", "10", "max_buffered_rows"),
        ("SSMD_ARCHIVER_ACK_WAIT_S", "10", "ack_wait_s"),
        ("SSMD_ARCHIVER_FLUSH_INTERVAL_S", "0", "flush_interval_s"),
        ("SSMD_ARCHIVER_FLUSH_ROWZ", "10", "SSMD_ARCHIVER_FLUSH_ROWZ"),
    ],
)
def test_bad_values_stop_start_up_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        ArchiverSettings.load()
    assert field in caught.value.fields
