"""The markets the simulated venue lists: their metadata, lifecycle status and indexes.

A `Listing` is what REST shows of a market (question, Gamma ids, dates, status, result)
around its `MarketState` (the book). The `Catalog` keeps listings in creation order (REST
pages are slices of that list, so a page costs O(page), never O(markets)) with dict
indexes by condition id, slug, token id, Gamma market id and Gamma event id, and the open
and closed sub-lists the Gamma ``closed=`` filter pages through (rebuilt only after a
status change). Listings are never removed: a settled market stays listed, closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from ssmd.simulator.polymarket.markets import Leg, MarketState
from ssmd.simulator.polymarket.symbols import MarketIds

Status = Literal["open", "paused", "closed", "determined", "settled"]
CLOSED_STATUSES: Final = frozenset({"closed", "determined", "settled"})
GAMMA_MARKET_ID_BASE: Final = 500_000
GAMMA_EVENT_ID_BASE: Final = 100_000
TAGS: Final = ("Simulated",)
"""Tags of every simulated market (``tags`` in REST and in ``new_market``)."""
MARKET_DURATION_MS: Final = 30 * 86_400_000
"""A market's ``end_date_iso`` is 30 days after it was listed."""


def question_of(slug: str) -> str:
    """A readable question from a slug: ``will-it-rain`` -> ``Will it rain?``."""
    words = slug.replace("-", " ").strip()
    return (words[:1].upper() + words[1:] + "?") if words else "?"


@dataclass(slots=True, eq=False)
class Listing:
    """One listed market; see module doc."""

    ids: MarketIds
    index: int
    created_ms: int
    market: MarketState
    root_slug: str
    status: Status = "open"
    result: Leg | None = None
    paused_once: bool = False
    closed_ms: int | None = None
    question: str = field(init=False)
    description: str = field(init=False)

    def __post_init__(self) -> None:
        self.question = question_of(self.ids.slug)
        statement = self.question.rstrip("?")
        self.description = (
            f'This simulated market will resolve to "Yes" if the answer to "{statement}" is '
            'yes. Otherwise, this market will resolve to "No".'
        )

    @property
    def gamma_id(self) -> str:
        return str(GAMMA_MARKET_ID_BASE + self.index)

    @property
    def event_id(self) -> str:
        return str(GAMMA_EVENT_ID_BASE + self.index)

    @property
    def end_ms(self) -> int:
        return self.created_ms + MARKET_DURATION_MS

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def accepting_orders(self) -> bool:
        return self.status == "open"

    @property
    def winner(self) -> Leg | None:
        """The winning token once settled."""
        return self.result if self.status == "settled" else None


class Catalog:
    """Every listed market, in listing order, with its indexes; see module doc."""

    def __init__(self) -> None:
        self.listings: list[Listing] = []
        self._by_condition: dict[str, Listing] = {}
        self._by_slug: dict[str, Listing] = {}
        self._by_gamma_id: dict[str, Listing] = {}
        self._by_event_id: dict[str, Listing] = {}
        self._by_token: dict[str, tuple[Listing, Leg]] = {}
        self._open: list[Listing] | None = None
        self._closed: list[Listing] | None = None

    def __len__(self) -> int:
        return len(self.listings)

    def add(self, market: MarketState, *, created_ms: int, root_slug: str | None = None) -> Listing:
        """List a new market (ValueError if its slug is listed already)."""
        ids = market.ids
        if ids.slug in self._by_slug:
            raise ValueError(f"market {ids.slug!r} is listed already")
        listing = Listing(
            ids=ids,
            index=len(self.listings),
            created_ms=created_ms,
            market=market,
            root_slug=root_slug or ids.slug,
        )
        self.listings.append(listing)
        self._by_condition[ids.condition_id] = listing
        self._by_slug[ids.slug] = listing
        self._by_gamma_id[listing.gamma_id] = listing
        self._by_event_id[listing.event_id] = listing
        self._by_token[ids.yes_token_id] = (listing, "yes")
        self._by_token[ids.no_token_id] = (listing, "no")
        self.status_changed()
        return listing

    def status_changed(self) -> None:
        """Forget the open/closed sub-lists (a listing changed status or was added)."""
        self._open = self._closed = None

    # -- lookups --------------------------------------------------------------------------
    def by_condition(self, condition_id: str) -> Listing | None:
        return self._by_condition.get(condition_id.lower())

    def by_slug(self, slug: str) -> Listing | None:
        return self._by_slug.get(slug.lower())

    def by_gamma_id(self, gamma_id: str) -> Listing | None:
        return self._by_gamma_id.get(gamma_id)

    def by_event_id(self, event_id: str) -> Listing | None:
        return self._by_event_id.get(event_id)

    def by_token(self, token_id: str) -> tuple[Listing, Leg] | None:
        return self._by_token.get(token_id)

    def find(self, product: str) -> Listing | None:
        """A market by condition id, slug or token id."""
        found = self.by_condition(product) or self.by_slug(product)
        if found is None and (token := self.by_token(product)) is not None:
            found = token[0]
        return found

    # -- views ------------------------------------------------------------------------------
    def view(self, closed: bool | None) -> list[Listing]:
        """All listings, or only the open (``closed=False``) or closed ones, in order."""
        if closed is None:
            return self.listings
        if self._open is None or self._closed is None:
            self._open = [item for item in self.listings if not item.closed]
            self._closed = [item for item in self.listings if item.closed]
        return self._closed if closed else self._open
