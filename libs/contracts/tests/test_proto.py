"""ssmd-proto: deterministic output, a coherent AsyncAPI document, and --check semantics."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ssmd.contracts import subjects
from ssmd.contracts.events import CHANNEL_OF, MD_CHANNELS
from ssmd.contracts.proto import FAMILIES, asyncapi_document, main, render

pytestmark = pytest.mark.unit


def test_render_is_deterministic_and_canonical_json() -> None:
    files = render()
    assert files == render()
    for relative, text in files.items():
        assert text.endswith("\n")
        if relative.endswith(".json"):
            assert (
                json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + ("\n")
                == text
            )


def test_one_schema_per_event_plus_the_union_and_the_reference_record() -> None:
    files = render()
    names = {f"schemas/{event.__name__}.json" for event in CHANNEL_OF}
    assert {name for name in files if name.startswith("schemas/")} == names | {
        "schemas/MarketEvent.json",
        "schemas/ReferenceRecord.json",
    }
    reference = json.loads(files["schemas/ReferenceRecord.json"])
    assert {"change", "market", "venue", "status", "version", "outbox_id"} <= set(
        reference["$defs"]["ReferenceRecord"]["required"]
    )
    trade = json.loads(files["schemas/Trade.json"])
    definition = trade["$defs"]["Trade"]
    assert definition["properties"]["type"] == {"enum": ["trade"]}
    assert {"type", "venue", "market", "ts_event_ns", "ts_recv_ns", "price", "size"} <= set(
        definition["required"]
    )
    assert definition["properties"]["price"]["type"] == "string"
    union = json.loads(files["schemas/MarketEvent.json"])
    assert union["discriminator"]["propertyName"] == "type"


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_asyncapi_references_all_resolve() -> None:
    document = asyncapi_document()
    files = render()
    refs = _refs(document)
    assert refs
    for ref in refs:
        if ref.startswith("#/"):
            _resolve(document, ref)
        else:
            assert ref in files, ref


def test_asyncapi_channels_declare_exactly_their_address_parameters() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    for channel in document["channels"].values():
        address_params = {
            part[1:-1] for part in channel["address"].split(".") if part.startswith("{")
        }
        assert set(channel["parameters"]) == address_params
    channel_param = document["components"]["parameters"]["channel"]
    assert channel_param["enum"] == list(MD_CHANNELS)
    md_messages = document["channels"]["marketData"]["messages"]
    assert set(md_messages) == {event.__name__ for event in CHANNEL_OF}
    assert {"marketData", "rawFrames", "reference", "deadLetters"} <= set(document["channels"])


# One call of the builder per family, with the values that fill the family's template.
BUILT: dict[str, tuple[Callable[[], str], dict[str, str]]] = {
    "marketData": (
        lambda: subjects.md_subject("prod", "kalshi", "book", 7, "kalshi:A.B"),
        {"env": "prod", "venue": "kalshi", "channel": "book", "shard": "7", "market": "A~2EB"},
    ),
    "rawFrames": (
        lambda: subjects.raw_subject("prod", "kalshi", 7),
        {"env": "prod", "venue": "kalshi", "shard": "7"},
    ),
    "reference": (
        lambda: subjects.ref_subject("kalshi", "added", "kalshi:A.B"),
        {"venue": "kalshi", "event": "added", "market": "A~2EB"},
    ),
    "deadLetters": (
        lambda: subjects.dead_letter_subject("prod", "connector.kalshi"),
        {"env": "prod", "origin": "connector.kalshi"},
    ),
    "orderFlow": (
        lambda: subjects.intent_subject("prod", "acct"),
        {"env": "prod", "account": "acct", "kind": "intent"},
    ),
    "orderEvents": (
        lambda: subjects.order_event_subject("prod", "acct"),
        {"env": "prod", "account": "acct"},
    ),
    "signals": (
        lambda: subjects.signal_subject("vwap", "kalshi", "kalshi:A.B"),
        {"name": "vwap", "venue": "kalshi", "market": "A~2EB"},
    ),
    "dataQuality": (
        lambda: subjects.dq_subject("prod", "kalshi", "gaps"),
        {"env": "prod", "venue": "kalshi", "report": "gaps"},
    ),
    "archive": (
        lambda: subjects.archive_subject("prod", "manifest"),
        {"env": "prod", "event": "manifest"},
    ),
    "tournament": (
        lambda: subjects.tournament_subject("prod", "result"),
        {"env": "prod", "event": "result"},
    ),
}


@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.key)
def test_address_templates_match_the_subject_builders(family: Any) -> None:
    build, values = BUILT[family.key]
    assert family.address.format(**values) == build()


def test_generate_then_check_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (tmp_path / "README.md").read_text().count("make proto") >= 1


def test_check_names_each_difference_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--out", str(tmp_path)])
    capsys.readouterr()
    (tmp_path / "schemas" / "Trade.json").write_text("{}\n")
    (tmp_path / "schemas" / "Gap.json").unlink()
    (tmp_path / "schemas" / "Old.json").write_text("{}\n")
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}

    assert main(["--out", str(tmp_path), "--check"]) == 1

    out = capsys.readouterr().out
    assert "differs: schemas/Trade.json" in out
    assert "missing: schemas/Gap.json" in out
    assert "extra: schemas/Old.json" in out
    assert "make proto" in out
    after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    assert after == before


def test_check_of_missing_directory_fails_without_creating_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "absent"
    assert main(["--out", str(out), "--check"]) == 1
    assert not out.exists()
    assert "missing: asyncapi.json" in capsys.readouterr().out


def test_generate_removes_stale_schemas(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "Removed.json").write_text("{}\n")
    assert main(["--out", str(tmp_path)]) == 0
    assert not (tmp_path / "schemas" / "Removed.json").exists()
    assert main(["--out", str(tmp_path), "--check"]) == 0
