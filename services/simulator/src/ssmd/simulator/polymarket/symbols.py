"""Polymarket markets the simulator serves: slugs, their default set, and the ids they imply.

A market is named by its slug (``[a-z0-9-]+``, the human URL id, e.g.
``will-btc-close-above-100k-on-nov-30``). Every other identifier is derived from the slug
by SHA-256, so that connector tests and system tests can predict them without asking:

* ``condition_id`` = ``"0x" + sha256(b"condition:" + slug).hexdigest()`` (the market; the
  ledger's ``product`` and the connector's canonical id ``polymarket:<condition_id>``);
* ``question_id`` = ``"0x" + sha256(b"question:" + slug).hexdigest()``;
* the YES / NO token ids = the SHA-256 of ``b"token:yes:" + slug`` / ``b"token:no:" + slug``
  read as a big-endian unsigned integer, in decimal (uint256 strings like the real ones).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

DEFAULT_MARKETS: Final = (
    "will-btc-close-above-100k-on-nov-30",
    "will-eth-close-above-4k-on-nov-30",
    "fed-cuts-rates-in-december",
    "will-it-rain-in-nyc-tomorrow",
    "starship-reaches-orbit-this-month",
    "will-sol-flip-eth-this-year",
)
"""Six binary markets served when no markets are configured."""

MAX_SLUG_LENGTH: Final = 200
_SLUG_RE: Final = re.compile(r"[a-z0-9-]+")


@dataclass(frozen=True, slots=True)
class MarketIds:
    """Every identifier of one binary market, derived from its slug (see module doc)."""

    slug: str
    condition_id: str
    question_id: str
    yes_token_id: str
    no_token_id: str

    @property
    def token_ids(self) -> tuple[str, str]:
        """(YES, NO), the order of ``clobTokenIds`` and ``outcomes``."""
        return (self.yes_token_id, self.no_token_id)


def _digest(prefix: bytes, slug: str) -> bytes:
    return hashlib.sha256(prefix + slug.encode()).digest()


def market_ids(slug: str) -> MarketIds:
    """The ids of the market `slug` (lower-case, valid; ValueError otherwise)."""
    if not is_slug(slug):
        raise ValueError(f"not a market slug: {slug!r} (use [a-z0-9-], at most 200 characters)")
    return MarketIds(
        slug=slug,
        condition_id="0x" + _digest(b"condition:", slug).hex(),
        question_id="0x" + _digest(b"question:", slug).hex(),
        yes_token_id=str(int.from_bytes(_digest(b"token:yes:", slug), "big")),
        no_token_id=str(int.from_bytes(_digest(b"token:no:", slug), "big")),
    )


def is_slug(text: str) -> bool:
    """Whether `text` is a slug the simulator can serve."""
    return len(text) <= MAX_SLUG_LENGTH and _SLUG_RE.fullmatch(text) is not None


def normalize_markets(markets: Sequence[str]) -> list[str]:
    """Lower-cased slugs; ValueError naming the ones that are not slugs."""
    lower = [market.strip().lower() for market in markets]
    bad = [market for market in lower if not is_slug(market)]
    if bad:
        raise ValueError(
            f"unsupported Polymarket markets {bad}: use slugs of [a-z0-9-] "
            f"(at most {MAX_SLUG_LENGTH} characters)"
        )
    return lower
