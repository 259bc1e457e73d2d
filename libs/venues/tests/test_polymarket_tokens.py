"""MarketTokens, TokenIndex and the YES/NO mapping of outcome lists."""

from __future__ import annotations

import pytest

from ssmd.venues.polymarket.tokens import (
    MarketTokens,
    TokenIndex,
    binary_tokens,
    condition_id_of,
    is_token_id,
    normalize_condition_id,
)

pytestmark = pytest.mark.unit

CID = "0x" + "0a" * 32
CID2 = "0x" + "0b" * 32
YES, NO, YES2, NO2 = "11", "12", "21", "22"


def test_market_tokens_carry_the_canonical_market_id() -> None:
    tokens = MarketTokens(CID, "0x01", YES, NO, slug="s", tick_size="0.01", neg_risk=True)
    assert tokens.market == f"polymarket:{CID}"
    assert tokens.token_ids == (YES, NO)
    assert condition_id_of(tokens.market) == CID


@pytest.mark.parametrize(
    ("condition_id", "yes", "no", "reason"),
    [
        ("0xabc123", YES, NO, "not a condition id"),
        (CID.upper().replace("0X", "0x"), YES, NO, "not a condition id"),  # upper-case hex
        (CID, "", NO, "yes token id"),
        (CID, YES, "0x12", "no token id"),
        (CID, YES, str(1 << 256), "no token id"),
        (CID, YES, YES, "the same"),
    ],
)
def test_market_tokens_reject_ids_that_are_not_ids(
    condition_id: str, yes: str, no: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        MarketTokens(condition_id, None, yes, no)


def test_ids_are_recognised_and_condition_ids_lower_cased() -> None:
    assert normalize_condition_id(CID.upper().replace("0X", "0x")) == CID
    assert normalize_condition_id("0x12") is None
    assert is_token_id(str((1 << 256) - 1))
    assert not is_token_id("-1")
    assert not is_token_id("\uff11")  # FULLWIDTH DIGIT ONE: a digit, but not ASCII
    with pytest.raises(ValueError, match="not a polymarket market id"):
        condition_id_of(f"kalshi:{CID}")


def test_index_answers_market_and_leg_of_each_token() -> None:
    first, second = MarketTokens(CID, None, YES, NO), MarketTokens(CID2, None, YES2, NO2)
    index = TokenIndex([first, second])
    assert index.lookup(YES) == (first, True)
    assert index.lookup(NO) == (first, False)
    assert index.lookup(NO2) == (second, False)
    assert index.lookup("99") is None
    assert index.market_of(CID2) is second
    assert (len(index), list(index), index.token_ids()) == (
        2,
        [first, second],
        [YES, NO, YES2, NO2],
    )
    assert YES in index
    assert "99" not in index


def test_index_remove_by_tokens_or_condition_id() -> None:
    first = MarketTokens(CID, None, YES, NO)
    index = TokenIndex([first, MarketTokens(CID2, None, YES2, NO2)])
    assert index.remove(first) == first
    assert index.lookup(YES) is None
    assert index.remove(CID2) is not None
    assert index.remove(CID2) is None
    assert len(index) == 0


def test_adding_a_market_again_replaces_its_tokens() -> None:
    index = TokenIndex([MarketTokens(CID, None, YES, NO)])
    index.add(MarketTokens(CID, None, YES, "13"))
    assert index.lookup(NO) is None
    assert index.lookup("13") == (MarketTokens(CID, None, YES, "13"), False)
    assert len(index) == 1


def test_a_token_cannot_belong_to_two_markets() -> None:
    index = TokenIndex([MarketTokens(CID, None, YES, NO)])
    with pytest.raises(ValueError, match="already belongs"):
        index.add(MarketTokens(CID2, None, NO, NO2))
    assert index.lookup(NO2) is None  # the refused market left nothing behind


@pytest.mark.parametrize(
    ("outcomes", "token_ids", "expected"),
    [
        (["Yes", "No"], [YES, NO], (YES, NO)),
        (["NO", "yes"], [NO, YES], (YES, NO)),
        (["Up", "Down"], [YES, NO], (YES, NO)),  # not Yes/No: the first is YES
        (["Yes", "No", "Maybe"], [YES, NO, "13"], None),
        (["Yes", "No"], ["", ""], None),  # legacy market without token ids
        (["Yes"], [YES], None),
    ],
)
def test_binary_tokens_maps_outcomes_to_legs(
    outcomes: list[str], token_ids: list[str], expected: tuple[str, str] | None
) -> None:
    tokens = binary_tokens(
        CID.upper().replace("0X", "0x"), "", token_ids, outcomes, slug="", tick_size="0.01"
    )
    if expected is None:
        assert tokens is None
    else:
        assert tokens == MarketTokens(CID, None, *expected, tick_size="0.01")


def test_binary_tokens_needs_a_real_condition_id() -> None:
    assert binary_tokens(None, None, [YES, NO], ["Yes", "No"]) is None
    assert binary_tokens("0xdef456", None, [YES, NO], ["Yes", "No"]) is None
