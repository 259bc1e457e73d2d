"""GatewaySettings: documented fields, environment parsing, and errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmd.core.errors import ConfigError
from ssmd.gateway.settings import GatewaySettings


def test_every_field_documented() -> None:
    for env_name, _, description in GatewaySettings.describe():
        assert env_name.startswith("SSMD_GATEWAY_")
        assert len(description) > 30, env_name


def test_environment_sets_venues_and_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_GATEWAY_VENUES", "kalshi, kraken_futures")
    monkeypatch.setenv("SSMD_GATEWAY_ARCHIVE_DIR", "/archive")
    monkeypatch.setenv("SSMD_GATEWAY_PORT", "0")
    settings = GatewaySettings.load()
    assert settings.venues == ("kalshi", "kraken_futures")
    assert settings.archive_dir == Path("/archive")
    assert settings.port == 0
    assert settings.tail_window_s == 120.0


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("SSMD_GATEWAY_VENUES", "Kalshi", "venues"),
        ("SSMD_GATEWAY_VENUES", "kalshi,kalshi", "venues"),
        ("SSMD_GATEWAY_MAX_LIMIT", "10", "max_limit"),
        ("SSMD_GATEWAY_TAIL_WINDOW_S", "0", "tail_window_s"),
        ("SSMD_GATEWAY_PORT", "70000", "port"),
    ],
)
def test_bad_values_name_the_field_and_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        GatewaySettings.load()
    assert field in caught.value.fields
    assert variable in str(caught.value)


def test_unknown_variables_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_GATEWAY_PROT", "8080")
    with pytest.raises(ConfigError, match="SSMD_GATEWAY_PROT"):
        GatewaySettings.load()
