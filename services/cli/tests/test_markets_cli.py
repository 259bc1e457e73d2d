"""`ssmd markets`: where the URL comes from, and what the user sees on errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ssmd.cli.__main__ import build_parser
from ssmd.cli.markets import CliError, base_url, run

pytestmark = pytest.mark.unit


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["markets", *argv])


def test_the_url_comes_from_the_flag_then_the_environment_then_endpoints_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSMD_SECMASTER_URL", raising=False)
    (tmp_path / "endpoints.json").write_text(json.dumps({"secmaster": {"url": "http://h:1/"}}))
    assert base_url(_args("--data-dir", str(tmp_path), "get", "kalshi:X")) == "http://h:1"
    monkeypatch.setenv("SSMD_SECMASTER_URL", "http://env:2")
    assert base_url(_args("--data-dir", str(tmp_path), "get", "kalshi:X")) == "http://env:2"
    assert base_url(_args("--url", "https://flag:3", "get", "kalshi:X")) == "https://flag:3"


def test_no_url_and_bad_schemes_are_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSMD_SECMASTER_URL", raising=False)
    with pytest.raises(CliError, match="run `ssmd up`") as caught:
        base_url(_args("--data-dir", str(tmp_path), "get", "kalshi:X"))
    assert caught.value.code == 2
    with pytest.raises(CliError, match="http"):
        base_url(_args("--url", "file:///etc/passwd", "get", "kalshi:X"))


def test_an_unreachable_secmaster_exits_2_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(_args("--url", "http://127.0.0.1:1", "search", "--venue", "kalshi")) == 2
    assert "cannot reach the secmaster" in capsys.readouterr().err
