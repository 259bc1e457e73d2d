"""The import rules in .importlinter name every workspace member.

import-linter checks only the modules a contract lists; this test makes sure a new library
or service cannot be forgotten there (and so escape "only ssmd.bus imports nats").
"""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _members(kind: str) -> set[str]:
    return {
        f"ssmd.{package.name}"
        for package in ROOT.glob(f"{kind}/*/src/ssmd/*")
        if package.is_dir() and not package.name.startswith("_")
    }


def _contract(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    return parser[f"importlinter:contract:{name}"]


def _modules(section: configparser.SectionProxy, key: str) -> set[str]:
    return {line.strip() for line in section.get(key, "").splitlines() if line.strip()}


def test_workspace_has_the_foundation_libraries() -> None:
    foundation = {"ssmd.core", "ssmd.contracts", "ssmd.bus", "ssmd.db", "ssmd.embedded"}
    assert foundation | {"ssmd.testing"} <= _members("libs")


@pytest.mark.parametrize(
    ("contract", "owner"),
    [
        ("only-bus-imports-nats", "ssmd.bus"),
        ("only-db-imports-asyncpg", "ssmd.db"),
        ("production-never-imports-testing", "ssmd.testing"),
    ],
)
def test_every_member_but_the_owner_is_forbidden_the_driver(contract: str, owner: str) -> None:
    everyone = _members("libs") | _members("services")
    listed = _modules(_contract(contract), "source_modules")
    assert listed == everyone - {owner}


def test_every_service_is_kept_apart_from_libs_and_other_services() -> None:
    services = _members("services")
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    if not services:
        assert "importlinter:contract:libs-never-import-services" not in parser
        return
    assert _modules(_contract("libs-never-import-services"), "forbidden_modules") == services
    assert _modules(_contract("libs-never-import-services"), "source_modules") == _members("libs")
    if len(services) >= 2:
        assert _modules(_contract("services-are-independent"), "modules") == services
