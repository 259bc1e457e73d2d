"""BusSettings: environment parsing, validation naming the field, documented fields."""

from __future__ import annotations

import pytest

from ssmd.bus import BusSettings
from ssmd.core.errors import ConfigError

pytestmark = pytest.mark.unit


def test_defaults_load_and_point_at_the_local_server() -> None:
    settings = BusSettings.load()
    assert settings.urls == ("nats://127.0.0.1:4222",)
    assert settings.publish_max_in_flight > 0


def test_urls_are_read_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSMD_BUS_URLS", "nats://a:4222, nats://b:4222")
    monkeypatch.setenv("SSMD_BUS_PUBLISH_MAX_IN_FLIGHT", "2048")
    settings = BusSettings.load()
    assert settings.urls == ("nats://a:4222", "nats://b:4222")
    assert settings.publish_max_in_flight == 2048


def test_bad_field_raises_config_error_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_BUS_PUBLISH_MAX_IN_FLIGHT", "-5")
    with pytest.raises(ConfigError) as caught:
        BusSettings.load()
    assert caught.value.fields == ("publish_max_in_flight",)
    assert "SSMD_BUS_PUBLISH_MAX_IN_FLIGHT" in str(caught.value)


def test_url_without_nats_scheme_is_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        BusSettings.load(urls="http://localhost:4222")
    assert caught.value.fields == ("urls",)


def test_heartbeat_must_be_shorter_than_pull_expiry() -> None:
    with pytest.raises(ConfigError) as caught:
        BusSettings.load(consumer_expires_s=5, consumer_heartbeat_s=5)
    assert caught.value.fields == ("consumer_heartbeat_s",)


def test_reconnect_cap_must_not_be_below_the_first_delay() -> None:
    with pytest.raises(ConfigError) as caught:
        BusSettings.load(reconnect_initial_s=2, reconnect_max_s=1)
    assert caught.value.fields == ("reconnect_max_s",)


def test_unknown_setting_in_the_environment_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_BUS_URL", "nats://typo:4222")
    with pytest.raises(ConfigError, match="SSMD_BUS_URL"):
        BusSettings.load()


def test_every_field_is_documented_with_its_unit_or_default_reason() -> None:
    for env_name, _default, description in BusSettings.describe():
        assert len(description) > 40, env_name
        assert "Default" in description, env_name


def test_load_for_names_the_connection_unless_the_settings_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSMD_BUS_NAME", raising=False)
    assert BusSettings.load_for("ssmd-archiver").name == "ssmd-archiver"
    monkeypatch.setenv("SSMD_BUS_NAME", "ops-chosen")
    assert BusSettings.load_for("ssmd-archiver").name == "ops-chosen"
