"""The symbology matcher: proposes cross-venue links by rule, each with a score in [0, 1].

* Titles are normalised (case, ``$``, thousands separators, ``100k`` -> ``100000``,
  aliases such as ``btc`` -> ``bitcoin``, month abbreviations, comparison words) and split
  into words and numbers (`title_terms`).
* score = Dice overlap of the words x a numbers factor (1 when both titles name the same
  numbers, 0.5 when they share some, 0.2 when they share none: a different strike or date
  is a different outcome; 0.7 when only one names any) x a close-time factor (1 within a
  day, 0.8 within a week, else 0.5; 1 if either is unknown).
* Candidates come from an inverted index of the rarer words and the numbers of one side,
  so 50k x 50k markets never meet pairwise; each market scores its 200 best-overlapping
  candidates.

Pure functions over plain values: `ssmd.secmaster.symbology` loads the markets and saves
the proposals.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import msgspec

_NS_PER_DAY: Final = 86_400_000_000_000
_MAX_CANDIDATES: Final = 200  # best-overlapping candidates scored per market
_RARE_SHARE: Final = 0.05  # words in more than this share of markets do not block

_ALIASES: Final = {
    "btc": "bitcoin",
    "xbt": "bitcoin",
    "eth": "ethereum",
    "ether": "ethereum",
    "sol": "solana",
    "fed": "federal",
    "jan": "january",
    "feb": "february",
    "mar": "march",
    "apr": "april",
    "jun": "june",
    "jul": "july",
    "aug": "august",
    "sep": "september",
    "sept": "september",
    "oct": "october",
    "nov": "november",
    "dec": "december",
    "over": "above",
    "exceed": "above",
    "exceeds": "above",
    "higher": "above",
    "greater": "above",
    "under": "below",
    "lower": "below",
    "less": "below",
    "closes": "close",
    "closing": "close",
}
_STOPWORDS: Final = frozenset(
    (
        *("a", "an", "and", "at", "be", "before", "by", "end", "for", "in", "is", "it"),
        *("of", "on", "or", "than", "the", "this", "to", "what", "when", "which", "will"),
        *("price", "usd"),
    )
)
_MULTIPLIERS: Final = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
_NUMBER_WITH_SUFFIX: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([kmb])\b")
_THOUSANDS: Final = re.compile(r"(?<=\d),(?=\d{3}\b)")
_TOKENS: Final = re.compile(r"\d+(?:\.\d+)?|[a-z]+")


@dataclass(frozen=True, slots=True)
class TitleTerms:
    """A title as the matcher compares it."""

    words: frozenset[str]
    numbers: frozenset[str]


def _number(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def title_terms(title: str) -> TitleTerms:
    """Normalise `title` into its words and numbers (see module doc)."""
    text = _THOUSANDS.sub("", title.lower().replace("$", ""))

    def expand(match: re.Match[str]) -> str:
        value = float(match.group(1)) * _MULTIPLIERS[match.group(2)]
        return str(round(value)) if value == round(value) else str(value)

    text = _NUMBER_WITH_SUFFIX.sub(expand, text)
    words: set[str] = set()
    numbers: set[str] = set()
    for token in _TOKENS.findall(text):
        if token[0].isdigit():
            numbers.add(_number(token))
            continue
        word = _ALIASES.get(token, token)
        if word not in _STOPWORDS:
            words.add(word)
    return TitleTerms(frozenset(words), frozenset(numbers))


@dataclass(frozen=True, slots=True)
class MatchCandidate:
    """One market the matcher considers."""

    market: str
    venue: str
    title: str
    close_ts_ns: int | None = None


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    """A proposed link and why."""

    left: str
    right: str
    score: float
    rule: str
    left_title: str
    right_title: str


def score_pair(
    a: MatchCandidate, b: MatchCandidate, terms_a: TitleTerms, terms_b: TitleTerms
) -> tuple[float, str]:
    """The score of `a` and `b` being one outcome, and the rule text that explains it."""
    total = len(terms_a.words) + len(terms_b.words)
    dice = 2 * len(terms_a.words & terms_b.words) / total if total else 0.0
    if terms_a.numbers and terms_b.numbers:
        if terms_a.numbers == terms_b.numbers:
            numbers = 1.0
        else:
            numbers = 0.5 if terms_a.numbers & terms_b.numbers else 0.2
    else:
        numbers = 1.0 if terms_a.numbers == terms_b.numbers else 0.7
    close = 1.0
    if a.close_ts_ns is not None and b.close_ts_ns is not None:
        apart_ns = abs(a.close_ts_ns - b.close_ts_ns)
        close = 1.0 if apart_ns <= _NS_PER_DAY else 0.8 if apart_ns <= 7 * _NS_PER_DAY else 0.5
    score = round(dice * numbers * close, 4)
    return score, f"title_dice={dice:.2f} numbers={numbers} close={close}"


def _block_keys(terms: TitleTerms) -> frozenset[str]:
    """Index keys of a title: its words and its numbers (``#``-prefixed)."""
    return terms.words | {f"#{number}" for number in terms.numbers}


def propose(
    left: Sequence[MatchCandidate], right: Sequence[MatchCandidate], *, min_score: float
) -> list[Proposal]:
    """Proposals between markets of `left` and `right` scoring at least `min_score`,
    best first. Pure CPU: run it in a thread for large universes."""
    right_terms = [title_terms(c.title) for c in right]
    frequency: Counter[str] = Counter(k for t in right_terms for k in _block_keys(t))
    common = max(50, round(_RARE_SHARE * len(right)))
    index: defaultdict[str, list[int]] = defaultdict(list)
    for position, terms in enumerate(right_terms):
        for key in _block_keys(terms):
            if frequency[key] <= common:
                index[key].append(position)
    found: list[Proposal] = []
    for candidate in left:
        terms = title_terms(candidate.title)
        overlap: Counter[int] = Counter()
        for key in _block_keys(terms):
            overlap.update(index.get(key, ()))
        for position, _ in overlap.most_common(_MAX_CANDIDATES):
            other = right[position]
            if other.venue == candidate.venue:
                continue
            score, rule = score_pair(candidate, other, terms, right_terms[position])
            if score >= min_score:
                a, b = sorted((candidate, other), key=lambda c: c.market)
                found.append(
                    Proposal(
                        left=a.market,
                        right=b.market,
                        score=score,
                        rule=rule,
                        left_title=a.title,
                        right_title=b.title,
                    )
                )
    unique = {(p.left, p.right): p for p in found}
    return sorted(unique.values(), key=lambda p: (-p.score, p.left, p.right))
