"""Settings: strict, frozen, documented, secrets masked, bad values name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import Field, SecretStr, ValidationError

from ssmd.core.errors import ConfigError
from ssmd.core.settings import CONFIG_FILE_ENV, SsmdSettings

pytestmark = pytest.mark.unit


class ExampleSettings(SsmdSettings):
    section = "example"

    url: str = Field("nats://127.0.0.1:4222", description="Server URL. Default: local mesh.")
    batch_size: int = Field(256, gt=0, description="Messages per pull (count). Default 256.")
    api_token: SecretStr = Field(SecretStr(""), description="API token; never logged.")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("SSMD_EXAMPLE_URL", "SSMD_EXAMPLE_BATCH_SIZE", "SSMD_EXAMPLE_API_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv(CONFIG_FILE_ENV, raising=False)


def test_defaults_load_from_nothing() -> None:
    settings = ExampleSettings.load()
    assert settings.url == "nats://127.0.0.1:4222"
    assert settings.batch_size == 256


def test_bad_env_value_names_field_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_EXAMPLE_BATCH_SIZE", "-5")
    with pytest.raises(ConfigError) as caught:
        ExampleSettings.load()
    assert caught.value.fields == ("batch_size",)
    assert "SSMD_EXAMPLE_BATCH_SIZE" in str(caught.value)
    assert "greater than 0" in str(caught.value)


def test_unknown_env_key_is_rejected_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_EXAMPLE_BATCHSIZE", "5")
    with pytest.raises(ConfigError, match="SSMD_EXAMPLE_BATCHSIZE"):
        ExampleSettings.load()


def test_unknown_init_key_is_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        ExampleSettings.load(batchsize=3)
    assert "batchsize" in caught.value.fields


def test_settings_are_frozen() -> None:
    settings = ExampleSettings.load()
    with pytest.raises(ValidationError):
        settings.batch_size = 3  # type: ignore[misc]


def test_secret_is_masked_in_repr_and_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMD_EXAMPLE_API_TOKEN", "hunter2")
    settings = ExampleSettings.load()
    assert "hunter2" not in repr(settings)
    assert settings.redacted()["api_token"] == "**********"
    assert settings.api_token.get_secret_value() == "hunter2"


def test_bad_secret_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    class TokenSettings(SsmdSettings):
        section = "tok"
        api_token: int = Field(0, description="numeric token")

    monkeypatch.setenv("SSMD_TOK_API_TOKEN", "hunter2")
    with pytest.raises(ConfigError) as caught:
        TokenSettings.load()
    assert "hunter2" not in str(caught.value)
    assert "api_token" in str(caught.value)


def test_file_section_is_read_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ssmd.toml"
    config.write_text('[example]\nurl = "nats://file:1"\nbatch_size = 9\n')
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    monkeypatch.setenv("SSMD_EXAMPLE_BATCH_SIZE", "11")
    settings = ExampleSettings.load()
    assert settings.url == "nats://file:1"
    assert settings.batch_size == 11


def test_one_file_serves_several_sections_and_a_missing_one_reads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "ssmd.json"
    config.write_text(json.dumps({"other": {"markets": ["A", "B"]}, "example": {"batch_size": 7}}))
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    assert ExampleSettings.load().batch_size == 7
    config.write_text(json.dumps({"other": {"markets": ["A", "B"]}}))
    assert ExampleSettings.load().batch_size == ExampleSettings.model_fields["batch_size"].default


def test_json_file_with_unknown_key_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "ssmd.json"
    config.write_text(json.dumps({"example": {"bogus": 1}}))
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    with pytest.raises(ConfigError) as caught:
        ExampleSettings.load()
    assert "bogus" in caught.value.fields


def test_unreadable_file_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_FILE_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="cannot read settings file"):
        ExampleSettings.load()


def test_describe_lists_every_field_with_env_name() -> None:
    rows = {env: (default, text) for env, default, text in ExampleSettings.describe()}
    assert set(rows) == {"SSMD_EXAMPLE_URL", "SSMD_EXAMPLE_BATCH_SIZE", "SSMD_EXAMPLE_API_TOKEN"}
    assert rows["SSMD_EXAMPLE_BATCH_SIZE"] == ("256", "Messages per pull (count). Default 256.")


def test_runtime_settings_reject_a_bad_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from ssmd.core.service_settings import RuntimeSettings

    monkeypatch.setenv("SSMD_RUNTIME_ENV", "Prod.1")
    with pytest.raises(ConfigError) as caught:
        RuntimeSettings.load()
    assert caught.value.fields == ("env",)
    assert "SSMD_RUNTIME_ENV" in str(caught.value)
