"""Polymarket's universe: CLOB ``GET /markets?next_cursor=`` pages into market records.

Bodies go through ``ssmd.venues.polymarket.rest``. A market is one binary market named by
its condition id (symbol = the canonical lower-case condition id); its YES/NO tokens come
from ``ClobMarket.tokens(require_order_book=False)`` (closed markets have no order book
but keep their tokens). Markets without a binary token pair (legacy AMM, scalar, more
than two outcomes) are skipped and counted. Status (VENUES.md 3.5): a winner token ->
settled, result ``yes``/``no`` (relative to the YES token); closed -> closed; active and
accepting orders -> open; otherwise paused.

The sync reads the CLOB only: Gamma's event listing is offset-paged over every event ever
made, so it is not cheap; the CLOB row has what the record needs (question, slug, tick,
end date, tags). `event` is the neg-risk market id, which groups the markets of one
multi-outcome event. `gamma_market_record` maps a Gamma market the same way (for the
fixtures and for callers that read Gamma).
"""

from __future__ import annotations

import logging
from typing import Final

from ssmd.contracts.reference import OutcomeToken, RefStatus
from ssmd.secmaster.model import MarketRecord
from ssmd.secmaster.sync.http import RestClient
from ssmd.secmaster.sync.source import SourcePage, Staged, market_row, records_only
from ssmd.venues.errors import MalformedFrame
from ssmd.venues.polymarket.config import VENUE
from ssmd.venues.polymarket.rest import (
    ClobMarket,
    GammaEvent,
    GammaMarket,
    parse_clob_markets_page,
)
from ssmd.venues.polymarket.tokens import MarketTokens

log = logging.getLogger(__name__)

CONTRACT_SIZE: Final = "1"
"""A winning outcome token redeems for 1 USDC."""


def lifecycle(
    *, closed: bool | None, active: bool | None, accepting_orders: bool | None, winner: str | None
) -> tuple[RefStatus, str | None]:
    """(status, result) of a market's flags; `winner` is ``yes``/``no`` once resolved."""
    if winner is not None:
        return "settled", winner
    if closed:
        return "closed", None
    if active is not False and accepting_orders is not False:
        return "open", None
    return "paused", None


def _attributes(found: dict[str, object]) -> dict[str, str]:
    return {
        name: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for name, value in found.items()
        if value is not None and value not in ("", ())
    }


def _tokens(pair: MarketTokens, outcomes: dict[str, str]) -> list[OutcomeToken]:
    return [
        OutcomeToken(
            token_id=pair.yes_token_id, outcome=outcomes.get(pair.yes_token_id, "Yes"), is_yes=True
        ),
        OutcomeToken(
            token_id=pair.no_token_id, outcome=outcomes.get(pair.no_token_id, "No"), is_yes=False
        ),
    ]


def clob_market_record(market: ClobMarket) -> MarketRecord | None:
    """The record of a CLOB market, or None when it has no binary token pair."""
    pair = market.tokens(require_order_book=False)
    if pair is None:
        return None
    winners = [token.token_id for token in market.outcome_tokens if token.winner]
    winner = None
    if len(winners) == 1:
        winner = "yes" if winners[0] == pair.yes_token_id else "no"
    status, result = lifecycle(
        closed=market.closed,
        active=market.active,
        accepting_orders=market.accepting_orders,
        winner=winner,
    )
    return MarketRecord(
        venue=VENUE,
        symbol=pair.condition_id,
        kind="binary",
        status=status,
        result=result,
        title=market.question or None,
        event=market.neg_risk_market_id,
        tokens=_tokens(pair, {token.token_id: token.outcome for token in market.outcome_tokens}),
        tick_size=market.tick_size,
        contract_size=CONTRACT_SIZE,
        close_ts_ns=market.end_ts_ns,
        attributes=_attributes(
            {
                "slug": market.slug,
                "question_id": market.question_id,
                "neg_risk": market.neg_risk,
                "min_order_size": market.min_order_size,
                "maker_base_fee": market.maker_base_fee,
                "taker_base_fee": market.taker_base_fee,
                "tags": ",".join(market.tags),
            }
        ),
    )


def gamma_market_record(
    market: GammaMarket, event: GammaEvent | None = None
) -> MarketRecord | None:
    """The record of a Gamma market (of `event`), or None when it has no binary token pair.

    Gamma shows no winner; a resolved market reads closed until the CLOB says settled.
    """
    pair = market.tokens(require_order_book=False)
    if pair is None:
        return None
    status, result = lifecycle(
        closed=market.closed,
        active=market.active,
        accepting_orders=market.accepting_orders,
        winner=None,
    )
    outcomes = dict(zip(market.clob_token_ids, market.outcomes, strict=False))
    return MarketRecord(
        venue=VENUE,
        symbol=pair.condition_id,
        kind="binary",
        status=status,
        result=result,
        title=market.question or None,
        event=None if event is None else event.neg_risk_market_id,
        tokens=_tokens(pair, outcomes),
        tick_size=market.tick_size,
        contract_size=CONTRACT_SIZE,
        close_ts_ns=market.end_ts_ns,
        attributes=_attributes(
            {
                "slug": market.slug,
                "question_id": market.question_id,
                "gamma_id": market.id,
                "gamma_event_id": None if event is None else event.id,
                "gamma_event_slug": None if event is None else event.slug,
                "neg_risk": market.neg_risk,
                "min_order_size": market.min_order_size,
                "market_type": market.market_type,
                "maker_base_fee": market.maker_base_fee,
                "taker_base_fee": market.taker_base_fee,
            }
        ),
    )


def gamma_event_records(event: GammaEvent) -> tuple[list[MarketRecord], list[str]]:
    """The records of a Gamma event's markets, and why markets were skipped."""
    records: list[MarketRecord] = []
    skipped: list[str] = []
    for market in event.markets:
        record = gamma_market_record(market, event)
        if record is None:
            skipped.append(f"{market.condition_id or market.id}: no binary YES/NO token pair")
        else:
            records.append(record)
    return records, skipped


def clob_page_records(body: bytes) -> tuple[list[MarketRecord], str | None, list[str]]:
    """(records, next cursor or None, why markets were skipped) of a CLOB markets page."""
    markets, cursor = parse_clob_markets_page(body)
    records: list[MarketRecord] = []
    skipped: list[str] = []
    for market in markets:
        record = clob_market_record(market)
        if record is None:
            skipped.append(f"{market.condition_id}: no binary YES/NO token pair")
        else:
            records.append(record)
    return records, cursor, skipped


class PolymarketSource:
    """Polymarket's CLOB market list as pages of staged rows; see module doc."""

    venue: Final = VENUE

    def __init__(self, client: RestClient, clob_url: str) -> None:
        self._client = client
        self._clob_url = clob_url

    async def fetch_page(self, cursor: str | None) -> SourcePage:
        params = {"next_cursor": cursor} if cursor else None
        records, following, skipped = await self._client.get(
            f"{self._clob_url}/markets", params, parse=clob_page_records
        )
        if following is not None and following == cursor:
            raise MalformedFrame(following.encode(), "GET /markets: next_cursor did not move on")
        return SourcePage(
            [market_row(record) for record in records],
            following,
            skipped=len(skipped),
            skipped_reasons=skipped,
        )

    def finish(self, staged: Staged) -> list[MarketRecord]:
        return records_only(staged)
