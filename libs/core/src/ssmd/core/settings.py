"""Settings base for every ssmd service and library.

Settings come from the environment (prefix ``SSMD_``, nested with ``__``) and an optional
TOML or JSON file named by ``SSMD_CONFIG_FILE``; the environment wins over the file. They are
validated once at start-up: unknown keys are rejected, the object is frozen, and secrets are
``SecretStr`` so neither ``repr`` nor the start-up log shows them. A bad value raises
`ConfigError` naming every offending field, and the service exits before doing any work.

Every field is declared with ``Field(description=...)`` stating its unit and why it has its
default; ``describe()`` prints them, and the ``test_every_field_documented`` check keeps it so.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ssmd.core.errors import ConfigError

CONFIG_FILE_ENV = "SSMD_CONFIG_FILE"

S = TypeVar("S", bound="SsmdSettings")


class _FileSource(PydanticBaseSettingsSource):
    """Reads the optional TOML/JSON settings file, scoped to the settings' section."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None, section: str) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is None:
            return
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read settings file {path}: {exc}") from exc
        try:
            document = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode())
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"settings file {path} is not valid: {exc}") from exc
        if not isinstance(document, dict):
            raise ConfigError(f"settings file {path} must hold a table/object at the top")
        # One file serves every service: a section it lacks means nothing from the file
        # (never the whole document, whose other sections would be unknown keys here).
        scoped = document.get(section, {}) if section else document
        if not isinstance(scoped, dict):
            raise ConfigError(f"settings file {path}: [{section}] must be a table/object")
        self._data = scoped

    def get_field_value(
        self,
        field: FieldInfo,  # noqa: ARG002 - the signature pydantic-settings calls
        field_name: str,
    ) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict[str, Any](self._data)


class SsmdSettings(BaseSettings):
    """Frozen, strict settings. Subclass per service and set ``env_prefix`` via ``section``.

    ``section`` names the service's table in the settings file and extends the env prefix:
    a subclass with ``section = "bus"`` reads ``SSMD_BUS_URL`` and ``[bus] url = ...``.
    """

    model_config = SettingsConfigDict(
        env_prefix="SSMD_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        validate_default=True,
        case_sensitive=False,
    )

    section: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.section:
            prefix = f"SSMD_{cls.section.upper()}_"
            cls.model_config = {**cls.model_config, "env_prefix": prefix}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files: env + file only
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path_text = os.environ.get(CONFIG_FILE_ENV)
        file_source = _FileSource(
            settings_cls, Path(path_text) if path_text else None, getattr(cls, "section", "")
        )
        return (init_settings, env_settings, file_source, file_secret_settings)

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Build the settings or raise `ConfigError` naming every bad field.

        Environment variables that start with this class's prefix but match no field
        are an error too (a typo must not silently fall back to a default).
        """
        prefix = str(cls.model_config.get("env_prefix", "SSMD_")).upper()
        known = {name.upper() for name in cls.model_fields}
        unknown = sorted(
            key
            for key in os.environ
            if key.upper().startswith(prefix)
            and key.upper() != CONFIG_FILE_ENV
            and key.upper()[len(prefix) :].split("__")[0] not in known
            # The base class (no section) shares the SSMD_ prefix with every section.
            and bool(cls.section)
        )
        if unknown:
            raise ConfigError(
                f"{cls.__name__}: unknown setting(s) {', '.join(unknown)}",
                fields=tuple(unknown),
            )
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise config_error_from(cls.__name__, prefix, exc) from None

    def redacted(self) -> dict[str, Any]:
        """The effective settings as plain data with secrets masked, for the start-up log."""
        masked: dict[str, Any] = _redact(self.model_dump(mode="python"))
        return masked

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(env var, default, description) for every field, for docs and ``--help``."""
        prefix = str(cls.model_config.get("env_prefix", "SSMD_")).upper()
        rows = []
        for name, info in cls.model_fields.items():
            default = "(required)" if info.is_required() else repr(info.get_default())
            rows.append((f"{prefix}{name.upper()}", default, info.description or ""))
        return rows


def _redact(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "**********" if value.get_secret_value() else ""
    if isinstance(value, BaseModel):
        return _redact(value.model_dump(mode="python"))
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def config_error_from(owner: str, prefix: str, exc: ValidationError) -> ConfigError:
    """Turn pydantic's report into one message naming each field and its env variable."""
    lines = []
    fields = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "(settings)"
        env_name = prefix + "__".join(str(part).upper() for part in error["loc"])
        fields.append(path)
        given = error.get("input")
        secret = any(word in path.lower() for word in ("secret", "password", "token", "key"))
        shown = "" if secret else f" (got {given!r})"
        lines.append(f"  {path} [{env_name}]: {error['msg']}{shown}")
    return ConfigError(
        f"{owner}: invalid settings:\n" + "\n".join(lines),
        fields=tuple(fields),
    )


def split_commas(value: object) -> object:
    """``"a, b,,c"`` → ``("a", "b", "c")``; anything else passes through to validation."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _check_venue_names(value: tuple[str, ...]) -> tuple[str, ...]:
    for venue in value:
        if not _VENUE_NAME.fullmatch(venue):
            raise ValueError(f"{venue!r} is not a venue name ([a-z0-9_]+)")
    if len(set(value)) != len(value):
        raise ValueError("venues are listed more than once")
    return value


_VENUE_NAME = re.compile(r"[a-z0-9_]+")

CommaSeparated = Annotated[tuple[str, ...], NoDecode, BeforeValidator(split_commas)]
"""A list setting written ``a,b,c`` in the environment (or a list in the settings file)."""

VenueNames = Annotated[CommaSeparated, AfterValidator(_check_venue_names)]
"""Venue names (``kalshi,kraken_futures``): lowercase tokens, each once."""
