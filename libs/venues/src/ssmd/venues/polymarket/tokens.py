"""Polymarket outcome tokens and the live token -> market index.

A canonical market is one binary market, named by its ``condition_id`` (``0x`` + 64 lower-case
hex digits; canonical id ``polymarket:<condition_id>``). Books, prices and trades are per
outcome TOKEN (``asset_id``, a uint256 decimal string) and every binary market has two: YES
and NO. `MarketTokens` ties the two to their market; `TokenIndex` answers "which market, and
which leg, is this token?" in one dict lookup. The connector fills the index from REST
metadata (or ``new_market`` messages) and changes it at run time; the parser reads it live.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Final

import msgspec

from ssmd.contracts.symbols import market_id, split_market_id
from ssmd.venues.polymarket.config import NO, VENUE, YES

CONDITION_ID_RE: Final = re.compile(r"0x[0-9a-f]{64}")
"""A condition id as canonical market ids spell it (lower-case hex)."""
TOKEN_ID_RE: Final = re.compile(r"[0-9]{1,78}")
"""A token id: the decimal text of a uint256 (at most 78 digits)."""
_YES: Final = YES.lower()
_NO: Final = NO.lower()


def normalize_condition_id(text: str) -> str | None:
    """`text` as a canonical condition id (lower case), or None if it is not one."""
    lowered = text.lower()
    return lowered if CONDITION_ID_RE.fullmatch(lowered) else None


def is_token_id(text: str) -> bool:
    """True when `text` is a uint256 decimal string."""
    return TOKEN_ID_RE.fullmatch(text) is not None and int(text) < 1 << 256


def condition_id_of(market: str) -> str:
    """The condition id inside a canonical market id ``polymarket:<condition_id>``."""
    venue, symbol = split_market_id(market)
    if venue != VENUE:
        raise ValueError(f"{market!r} is not a {VENUE} market id")
    return symbol


class MarketTokens(msgspec.Struct, frozen=True):
    """One binary market and its two outcome tokens.

    `question_id` is the UMA question hash; None where the source does not carry it
    (``new_market`` messages). `tick_size` is the minimum price increment as decimal text.
    Construction rejects a condition id that is not ``0x`` + 64 lower-case hex, token ids
    that are not uint256 decimal strings, and a YES token equal to the NO token.
    """

    condition_id: str
    question_id: str | None
    yes_token_id: str
    no_token_id: str
    slug: str | None = None
    tick_size: str | None = None
    neg_risk: bool = False

    def __post_init__(self) -> None:
        if CONDITION_ID_RE.fullmatch(self.condition_id) is None:
            raise ValueError(f"not a condition id (0x + 64 lower-case hex): {self.condition_id!r}")
        for name, token in (("yes", self.yes_token_id), ("no", self.no_token_id)):
            if not is_token_id(token):
                raise ValueError(f"{name} token id is not a uint256 decimal: {token!r}")
        if self.yes_token_id == self.no_token_id:
            raise ValueError(f"YES and NO token ids are the same: {self.yes_token_id!r}")

    @property
    def market(self) -> str:
        """The canonical market id ``polymarket:<condition_id>``."""
        return market_id(VENUE, self.condition_id)

    @property
    def token_ids(self) -> tuple[str, str]:
        """(YES token id, NO token id), the ids to subscribe to."""
        return self.yes_token_id, self.no_token_id


def binary_tokens(
    condition_id: str | None,
    question_id: str | None,
    token_ids: Sequence[str],
    outcomes: Sequence[str],
    *,
    slug: str | None = None,
    tick_size: str | None = None,
    neg_risk: bool = False,
) -> MarketTokens | None:
    """The `MarketTokens` of a market whose `token_ids` align with `outcomes`, or None.

    The "Yes" outcome's token is the YES token (names compared case-insensitively). When the
    two outcomes are not Yes/No (sports: team names; "Up"/"Down"; "Long"/"Short") the FIRST
    is taken as YES, the order in which Polymarket lists the affirmative outcome. None when
    there are not exactly two tokens and two outcomes, or the ids are not a condition id and
    two distinct uint256 token ids (legacy markets carry empty ones).
    """
    if len(token_ids) != 2 or len(outcomes) != 2 or condition_id is None:
        return None
    canonical = normalize_condition_id(condition_id)
    if canonical is None:
        return None
    yes_token, no_token = token_ids
    if (outcomes[0].lower(), outcomes[1].lower()) == (_NO, _YES):
        yes_token, no_token = no_token, yes_token
    try:
        return MarketTokens(
            canonical,
            question_id or None,
            yes_token,
            no_token,
            slug=slug or None,
            tick_size=tick_size,
            neg_risk=neg_risk,
        )
    except ValueError:
        return None


class TokenIndex:
    """Token id -> (market, is YES leg), and condition id -> market; mutable, not thread-safe.

    Adding a market whose condition id is already present replaces it. A token id can
    belong to one market only: adding a market that reuses another market's token raises
    ValueError (the index would otherwise answer differently depending on insertion order).
    """

    __slots__ = ("_by_condition", "_by_token")

    def __init__(self, markets: Iterable[MarketTokens] = ()) -> None:
        self._by_token: dict[str, tuple[MarketTokens, bool]] = {}
        self._by_condition: dict[str, MarketTokens] = {}
        for tokens in markets:
            self.add(tokens)

    def add(self, tokens: MarketTokens) -> None:
        """Add (or replace) a market and its two tokens."""
        for token in tokens.token_ids:
            owner = self._by_token.get(token)
            if owner is not None and owner[0].condition_id != tokens.condition_id:
                raise ValueError(
                    f"token {token} already belongs to market {owner[0].condition_id}, "
                    f"not {tokens.condition_id}"
                )
        self.remove(tokens.condition_id)
        self._by_condition[tokens.condition_id] = tokens
        self._by_token[tokens.yes_token_id] = (tokens, True)
        self._by_token[tokens.no_token_id] = (tokens, False)

    def remove(self, market: MarketTokens | str) -> MarketTokens | None:
        """Remove a market (given as its `MarketTokens` or condition id); the removed one."""
        condition_id = market.condition_id if isinstance(market, MarketTokens) else market
        removed = self._by_condition.pop(condition_id, None)
        if removed is not None:
            for token in removed.token_ids:
                self._by_token.pop(token, None)
        return removed

    def lookup(self, token_id: str) -> tuple[MarketTokens, bool] | None:
        """(market, True if `token_id` is its YES token), or None for a token not indexed."""
        return self._by_token.get(token_id)

    def market_of(self, condition_id: str) -> MarketTokens | None:
        """The market of a condition id, or None."""
        return self._by_condition.get(condition_id)

    def token_ids(self) -> list[str]:
        """Every indexed token id (YES then NO, market by market), e.g. to subscribe."""
        return [token for tokens in self._by_condition.values() for token in tokens.token_ids]

    def __contains__(self, token_id: object) -> bool:
        return token_id in self._by_token

    def __iter__(self) -> Iterator[MarketTokens]:
        return iter(list(self._by_condition.values()))

    def __len__(self) -> int:
        return len(self._by_condition)

    def __repr__(self) -> str:
        return f"TokenIndex(markets={len(self._by_condition)})"
