"""Symbol tokens: the documented encoding, its bijection, and injection safety; market ids."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from ssmd.contracts.symbols import decode_token, encode_token, market_id, split_market_id

pytestmark = pytest.mark.unit

# Every Unicode scalar value (the full code-point range minus surrogates, which are not
# text), mixed with the ASCII that matters most here, which full-range draws rarely hit.
any_text = st.text(
    st.sampled_from(".*>~:/ \t\r\n\x00-_aZ09")
    | st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=["Cs"])
)
venues = st.from_regex(r"[a-z0-9_]+", fullmatch=True)

TOKEN_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_~")
# Characters NATS reads as syntax in a subject, or that break its text protocol.
NATS_FORBIDDEN = frozenset(".*> \t\r\n\x00\x0b\x0c")


@pytest.mark.parametrize(
    ("symbol", "token"),
    [
        ("KXBTCD-25NOV21-T100000", "KXBTCD-25NOV21-T100000"),
        ("PF_XBTUSD", "PF_XBTUSD"),
        ("KXHIGHNY-25NOV21-B57.5", "KXHIGHNY-25NOV21-B57~2E5"),
        ("BTC/USD", "BTC~2FUSD"),
        ("a b", "a~20b"),
        ("*", "~2A"),
        (">", "~3E"),
        ("~", "~7E"),
        ("", "~"),
        ("é", "~C3~A9"),
        ("𝄞", "~F0~9D~84~9E"),
        ("\x00", "~00"),
    ],
)
def test_encode_token_follows_documented_rule(symbol: str, token: str) -> None:
    assert encode_token(symbol) == token
    assert decode_token(token) == symbol


@given(any_text)
def test_decode_inverts_encode_for_any_text(symbol: str) -> None:
    assert decode_token(encode_token(symbol)) == symbol


@given(any_text, any_text)
def test_encode_token_is_injective(first: str, second: str) -> None:
    assume(first != second)
    assert encode_token(first) != encode_token(second)


@given(any_text)
@example(".")
@example("*")
@example(">")
@example(" ")
@example("\u3000")  # ideographic space: whitespace outside ASCII
@example("")
def test_token_is_never_empty_and_never_carries_subject_syntax(symbol: str) -> None:
    token = encode_token(symbol)
    assert token
    assert token.isascii()
    assert set(token) <= TOKEN_ALPHABET
    assert not set(token) & NATS_FORBIDDEN
    assert not any(char.isspace() for char in token)
    assert token.isprintable()


@pytest.mark.parametrize(
    "token",
    [
        "",  # the empty symbol is "~", never ""
        "~7e",  # lowercase hex
        "~~",  # stray escape
        "a~",  # truncated escape
        "a~4",  # truncated escape
        "~GG",  # not hex
        "~41",  # 'A' escaped though it passes through
        "~2D",  # '-' escaped though it passes through
        "~C3",  # truncated UTF-8 sequence
        "~C0~80",  # overlong UTF-8
        "~ED~A0~80",  # UTF-8 of a surrogate
        "~FF",  # never valid UTF-8
        "a.b",  # separator passed through
        "a b",  # whitespace passed through
        "*",
        ">",
        "é",  # non-ASCII passed through
    ],
)
def test_decode_token_rejects_tokens_encode_never_produces(token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        decode_token(token)


@given(st.text(alphabet="AZaz09_-~.~~~0123456789ABCDEFabcdef é", max_size=24))
def test_decode_token_accepts_exactly_the_image_of_encode(token: str) -> None:
    try:
        symbol = decode_token(token)
    except ValueError:
        return
    assert encode_token(symbol) == token


def test_encode_token_rejects_lone_surrogates() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        encode_token("ok\ud800")


@given(venues, any_text)
def test_market_id_round_trips_through_split(venue: str, symbol: str) -> None:
    assert split_market_id(market_id(venue, symbol)) == (venue, symbol)


def test_market_id_keeps_exact_spelling_and_splits_at_first_colon() -> None:
    assert market_id("kalshi", "KXBTCD-25NOV21-T100000") == "kalshi:KXBTCD-25NOV21-T100000"
    assert split_market_id("polymarket:a:b") == ("polymarket", "a:b")
    assert split_market_id("kalshi:") == ("kalshi", "")


@pytest.mark.parametrize("bad", ["no-colon", ":X", "Kalshi:X", "kal shi:X", "kal.shi:X", "*:X"])
def test_split_market_id_rejects_malformed_ids(bad: str) -> None:
    with pytest.raises(ValueError, match=r"venue|market id"):
        split_market_id(bad)


@pytest.mark.parametrize("venue", ["", "Kalshi", "kal-shi", "kal.shi", "*", ">"])
def test_market_id_rejects_bad_venues(venue: str) -> None:
    with pytest.raises(ValueError, match="venue"):
        market_id(venue, "X")
