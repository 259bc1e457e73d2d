"""The symbology matcher's rules: title normalisation, scores, candidate blocking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ssmd.secmaster.matcher import MatchCandidate, propose, score_pair, title_terms

DAY_NS = 86_400_000_000_000
BTC = "Will BTC close above 100k on Nov 30?"


def _score(a: MatchCandidate, b: MatchCandidate) -> float:
    return score_pair(a, b, title_terms(a.title), title_terms(b.title))[0]


def test_titles_written_differently_normalise_to_the_same_terms() -> None:
    one = title_terms("Will BTC close above $100,000 on Nov 30?")
    other = title_terms("Will Bitcoin close over 100k on November 30?")
    assert one == other
    assert one.words == {"bitcoin", "close", "above", "november"}
    assert one.numbers == {"100000", "30"}
    assert title_terms("ETH above 2.5k").numbers == {"2500"}
    assert title_terms("Volume over 1.5m").numbers == {"1500000"}
    assert title_terms("Rate at 4.50%").numbers == {"4.5"}


def test_the_same_question_on_two_venues_scores_one() -> None:
    kalshi = MatchCandidate("kalshi:KXBTC", "kalshi", BTC, 10 * DAY_NS)
    polymarket = MatchCandidate("polymarket:0xbtc", "polymarket", BTC, 10 * DAY_NS + 3600)
    assert _score(kalshi, polymarket) == 1.0


def test_another_strike_or_a_far_close_time_scores_low() -> None:
    kalshi = MatchCandidate("kalshi:KXBTC", "kalshi", BTC, 10 * DAY_NS)
    other_strike = MatchCandidate(
        "polymarket:0x90", "polymarket", "Will BTC close above 90k on Nov 30?", 10 * DAY_NS
    )
    later = MatchCandidate("polymarket:0xl", "polymarket", BTC, 40 * DAY_NS)
    unrelated = MatchCandidate("polymarket:0xf", "polymarket", "Fed cuts rates in December?")
    assert _score(kalshi, other_strike) == 0.5
    assert _score(kalshi, later) == 0.5
    assert _score(kalshi, unrelated) == 0.0


_titles = st.text(alphabet=st.sampled_from("abcdefghij 0123456789$,.?k"), min_size=0, max_size=40)


@given(_titles, _titles)
def test_scores_are_symmetric_and_between_zero_and_one(first: str, second: str) -> None:
    a = MatchCandidate("kalshi:A", "kalshi", first)
    b = MatchCandidate("polymarket:B", "polymarket", second)
    score = _score(a, b)
    assert 0.0 <= score <= 1.0
    assert score == _score(b, a)


@given(_titles)
def test_a_title_with_words_matches_itself_fully(title: str) -> None:
    a = MatchCandidate("kalshi:A", "kalshi", title)
    b = MatchCandidate("polymarket:B", "polymarket", title)
    assert _score(a, b) == (1.0 if title_terms(title).words else 0.0)


def test_blocking_finds_the_twin_among_thousands_of_similar_titles() -> None:
    # 3,000 Kalshi BTC strikes share every word; only the number tells them apart.
    kalshi = [
        MatchCandidate(f"kalshi:KXBTC-T{k}", "kalshi", f"Will BTC close above {k}k on Nov 30?")
        for k in range(1, 3001)
    ]
    polymarket = [MatchCandidate("polymarket:0xbtc", "polymarket", BTC)]
    found = propose(kalshi, polymarket, min_score=0.6)
    assert [(p.left, p.right) for p in found] == [("kalshi:KXBTC-T100", "polymarket:0xbtc")]
    assert found[0].score == 1.0
    assert "title_dice=1.00" in found[0].rule
    assert propose(polymarket, kalshi, min_score=0.6)[0].left == "kalshi:KXBTC-T100"
