"""Polymarket market slugs and the ids derived from them (the formulas of the brief)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.simulator.polymarket.symbols import (
    DEFAULT_MARKETS,
    MAX_SLUG_LENGTH,
    market_ids,
    normalize_markets,
)
from ssmd.simulator.settings import SimulatorSettings

pytestmark = pytest.mark.unit

SLUG = "will-btc-close-above-100k-on-nov-30"


def test_ids_follow_the_published_derivation() -> None:
    ids = market_ids(SLUG)
    raw = SLUG.encode()
    assert ids.condition_id == "0x" + hashlib.sha256(b"condition:" + raw).hexdigest()
    assert ids.question_id == "0x" + hashlib.sha256(b"question:" + raw).hexdigest()
    yes = int.from_bytes(hashlib.sha256(b"token:yes:" + raw).digest(), "big")
    no = int.from_bytes(hashlib.sha256(b"token:no:" + raw).digest(), "big")
    assert (ids.yes_token_id, ids.no_token_id) == (str(yes), str(no))
    assert ids.token_ids == (ids.yes_token_id, ids.no_token_id)


def test_ids_look_like_the_venues() -> None:
    ids = market_ids(SLUG)
    assert len(ids.condition_id) == 66
    assert len(ids.question_id) == 66
    assert ids.condition_id.startswith("0x")
    for token in ids.token_ids:
        assert token.isdigit()
        assert 0 < int(token) < 2**256


@given(st.from_regex(r"[a-z0-9-]{1,60}", fullmatch=True))
def test_distinct_slugs_give_distinct_ids_and_tokens(slug: str) -> None:
    ids = market_ids(slug)
    other = market_ids(slug + "-x")
    assert ids.condition_id != other.condition_id
    assert ids.yes_token_id != ids.no_token_id
    assert {ids.yes_token_id, ids.no_token_id}.isdisjoint(other.token_ids)


def test_normalize_lower_cases_and_names_the_bad_ones() -> None:
    assert normalize_markets([" Fed-Cuts-Rates ", "abc-1"]) == ["fed-cuts-rates", "abc-1"]
    with pytest.raises(ValueError, match=r"bad_slug.*x y") as raised:
        normalize_markets(["ok", "bad_slug", "x y"])
    assert "'ok'" not in str(raised.value)
    with pytest.raises(ValueError, match="200"):
        normalize_markets(["a" * (MAX_SLUG_LENGTH + 1)])
    with pytest.raises(ValueError, match="not a market slug"):
        market_ids("Upper")


def test_settings_default_to_about_six_valid_markets() -> None:
    assert 5 <= len(DEFAULT_MARKETS) <= 8
    assert normalize_markets(list(DEFAULT_MARKETS)) == list(DEFAULT_MARKETS)
    settings = SimulatorSettings.load(venue="polymarket")
    assert settings.markets == list(DEFAULT_MARKETS)
    assert SimulatorSettings.load(venue="polymarket", markets=["A-B"]).markets == ["a-b"]
