"""Polymarket REST reference and market data: Gamma and CLOB bodies into domain records.

Bodies are the raw bytes of Gamma ``GET /markets``, ``/markets/{id}``, ``/events``,
``/events/{id}``, ``/tags``, ``/public-search`` and CLOB ``GET /markets``,
``/markets/{condition_id}``, ``/book?token_id=``, ``/fee-rate?token_id=`` answers. Each
function decodes, converts numbers exactly (JSON numbers or strings -> canonical decimal
text), and raises `MalformedFrame` for a body of the wrong shape (the reason names the
field), or `VenueRejectedError` for an ``{"error": ...}`` body (the HTTP layer maps 429/5xx
to `VenueBusyError` before calling these, from the status it alone sees).

Markets of every shape parse: binary, multi-outcome members of neg-risk events, sports
(outcomes are team names), legacy AMM markets (scalar "Long"/"Short", empty token ids, no
order book). `tokens()` returns the YES/NO `MarketTokens` only where a pair can be formed,
by `ssmd.venues.polymarket.tokens.binary_tokens`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

import msgspec

from ssmd.contracts.events import BookSnapshot, PriceLevel
from ssmd.venues.errors import MalformedFrame, VenueRejectedError
from ssmd.venues.polymarket import config
from ssmd.venues.polymarket.tokens import MarketTokens, TokenIndex, binary_tokens
from ssmd.venues.polymarket.wire import (
    BadValue,
    ClobBook,
    ClobFeeRate,
    ClobMarketsPage,
    ClobMarketWire,
    EncodedList,
    GammaEventWire,
    GammaMarketWire,
    GammaSearchResponse,
    GammaTagWire,
    complement,
    price_text,
    raw_decimal,
    sorted_levels,
    timestamp_ns,
)

W = TypeVar("W")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SCALAR: Final = "scalar"


class ErrorBody(msgspec.Struct, frozen=True):
    """``{"error": "..."}``, the venue's error answer."""

    error: str


class GammaMarket(msgspec.Struct, frozen=True, kw_only=True):
    """A Gamma market. Decimals are canonical text; `end_ts_ns` is Unix ns.

    `outcomes`, `outcome_prices` and `clob_token_ids` are aligned (decoded from Gamma's
    JSON-encoded strings); empty when absent.
    """

    id: str | None
    question: str | None
    condition_id: str | None
    question_id: str | None
    slug: str | None
    end_ts_ns: int | None
    outcomes: tuple[str, ...]
    outcome_prices: tuple[str, ...]
    clob_token_ids: tuple[str, ...]
    active: bool | None
    closed: bool | None
    archived: bool | None
    accepting_orders: bool | None
    enable_order_book: bool | None
    tick_size: str | None
    min_order_size: str | None
    neg_risk: bool
    market_type: str | None
    fees_enabled: bool | None
    fee_type: str | None
    maker_base_fee: str | None
    taker_base_fee: str | None
    fee_rate: str | None
    fee_exponent: str | None

    def tokens(self, *, require_order_book: bool = True) -> MarketTokens | None:
        """The YES/NO tokens of a binary market (with an order book, unless told otherwise).

        None for legacy AMM markets (no ``enableOrderBook``), scalar markets ("Long"/"Short"
        pay a fraction of a range, not a probability), markets with other than two outcomes,
        and ids that do not form a pair. Two outcomes that are not Yes/No (team names,
        "Up"/"Down"): the first is YES.
        """
        if require_order_book and not self.enable_order_book:
            return None
        if self.market_type == _SCALAR:
            return None
        return binary_tokens(
            self.condition_id,
            self.question_id,
            self.clob_token_ids,
            self.outcomes,
            slug=self.slug,
            tick_size=self.tick_size,
            neg_risk=self.neg_risk,
        )


class GammaTag(msgspec.Struct, frozen=True, kw_only=True):
    """A Gamma tag."""

    id: str
    label: str | None
    slug: str | None


class GammaEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A Gamma event: a group of markets (one per outcome of a neg-risk event)."""

    id: str
    ticker: str | None
    slug: str | None
    title: str | None
    description: str | None
    active: bool | None
    closed: bool | None
    archived: bool | None
    neg_risk: bool
    neg_risk_market_id: str | None
    markets: tuple[GammaMarket, ...]
    tags: tuple[GammaTag, ...]


class OutcomeToken(msgspec.Struct, frozen=True, kw_only=True):
    """One outcome token of a CLOB market; `price` canonical text, `winner` after resolution."""

    token_id: str
    outcome: str
    price: str | None
    winner: bool | None


class ClobMarket(msgspec.Struct, frozen=True, kw_only=True):
    """A CLOB market. Decimals are canonical text; `end_ts_ns` is Unix ns."""

    condition_id: str
    question_id: str | None
    question: str | None
    slug: str | None
    end_ts_ns: int | None
    active: bool | None
    closed: bool | None
    archived: bool | None
    accepting_orders: bool | None
    enable_order_book: bool | None
    tick_size: str | None
    min_order_size: str | None
    maker_base_fee: str | None
    taker_base_fee: str | None
    neg_risk: bool
    neg_risk_market_id: str | None
    outcome_tokens: tuple[OutcomeToken, ...]
    tags: tuple[str, ...]

    def tokens(self, *, require_order_book: bool = True) -> MarketTokens | None:
        """The YES/NO tokens of a binary market; see `GammaMarket.tokens`.

        The CLOB clears ``enable_order_book`` on closed markets: pass
        ``require_order_book=False`` to map their tokens anyway (e.g. to read a resolution).
        """
        if require_order_book and not self.enable_order_book:
            return None
        return binary_tokens(
            self.condition_id,
            self.question_id,
            [token.token_id for token in self.outcome_tokens],
            [token.outcome for token in self.outcome_tokens],
            slug=self.slug,
            tick_size=self.tick_size,
            neg_risk=self.neg_risk,
        )


class TokenBook(msgspec.Struct, frozen=True, kw_only=True):
    """CLOB ``GET /book`` of one token: levels best first (bids descending, asks ascending)."""

    market: str
    asset_id: str
    hash: str | None
    ts_event_ns: int
    bids: list[PriceLevel]
    asks: list[PriceLevel]
    tick_size: str | None
    min_order_size: str | None
    neg_risk: bool | None


# -- Gamma ---------------------------------------------------------------------------------
def parse_gamma_markets(body: bytes | str) -> list[GammaMarket]:
    """Gamma ``GET /markets``: a JSON array of markets."""
    raw = _bytes(body)
    return _convert(raw, lambda: [_gamma_market(m) for m in _decode(raw, list[GammaMarketWire])])


def parse_gamma_market(body: bytes | str) -> GammaMarket:
    """Gamma ``GET /markets/{id}``: one market."""
    raw = _bytes(body)
    return _convert(raw, lambda: _gamma_market(_decode(raw, GammaMarketWire)))


def parse_gamma_events(body: bytes | str) -> list[GammaEvent]:
    """Gamma ``GET /events``: a JSON array of events, each with its markets."""
    raw = _bytes(body)
    return _convert(raw, lambda: [_gamma_event(e) for e in _decode(raw, list[GammaEventWire])])


def parse_gamma_event(body: bytes | str) -> GammaEvent:
    """Gamma ``GET /events/{id}``: one event."""
    raw = _bytes(body)
    return _convert(raw, lambda: _gamma_event(_decode(raw, GammaEventWire)))


def parse_gamma_search(body: bytes | str) -> tuple[list[GammaEvent], bool]:
    """Gamma ``GET /public-search``: (matching events, whether more pages exist)."""
    raw = _bytes(body)
    found = _decode(raw, GammaSearchResponse)
    events = _convert(raw, lambda: [_gamma_event(e) for e in found.events])
    return events, found.pagination is not None and found.pagination.hasMore


def parse_gamma_tags(body: bytes | str) -> list[GammaTag]:
    """Gamma ``GET /tags``: a JSON array of tags."""
    return [_tag(tag) for tag in _decode(_bytes(body), list[GammaTagWire])]


def _gamma_market(wire: GammaMarketWire) -> GammaMarket:
    schedule = wire.feeSchedule
    outcomes = _encoded_list(wire.outcomes, "outcomes")
    return GammaMarket(
        id=wire.id,
        question=wire.question,
        condition_id=wire.conditionId,
        question_id=wire.questionID or wire.questionId,
        slug=wire.slug,
        end_ts_ns=_iso_ns(wire.endDate, "endDate"),
        outcomes=outcomes,
        outcome_prices=tuple(
            price_text(p, "outcomePrices")
            for p in _encoded_list(wire.outcomePrices, "outcomePrices")
        ),
        clob_token_ids=_encoded_list(wire.clobTokenIds, "clobTokenIds"),
        active=wire.active,
        closed=wire.closed,
        archived=wire.archived,
        accepting_orders=wire.acceptingOrders,
        enable_order_book=wire.enableOrderBook,
        tick_size=raw_decimal(wire.orderPriceMinTickSize, "orderPriceMinTickSize"),
        min_order_size=raw_decimal(wire.orderMinSize, "orderMinSize"),
        neg_risk=bool(wire.negRisk),
        market_type=wire.marketType,
        fees_enabled=wire.feesEnabled,
        fee_type=wire.feeType,
        maker_base_fee=raw_decimal(wire.makerBaseFee, "makerBaseFee"),
        taker_base_fee=raw_decimal(wire.takerBaseFee, "takerBaseFee"),
        fee_rate=None if schedule is None else raw_decimal(schedule.rate, "feeSchedule.rate"),
        fee_exponent=(
            None if schedule is None else raw_decimal(schedule.exponent, "feeSchedule.exponent")
        ),
    )


def _gamma_event(wire: GammaEventWire) -> GammaEvent:
    return GammaEvent(
        id=wire.id,
        ticker=wire.ticker,
        slug=wire.slug,
        title=wire.title,
        description=wire.description,
        active=wire.active,
        closed=wire.closed,
        archived=wire.archived,
        neg_risk=bool(wire.negRisk),
        neg_risk_market_id=wire.negRiskMarketID or None,
        markets=tuple(_gamma_market(m) for m in wire.markets),
        tags=tuple(_tag(t) for t in wire.tags),
    )


def _tag(wire: GammaTagWire) -> GammaTag:
    return GammaTag(id=wire.id, label=wire.label, slug=wire.slug)


# -- CLOB ----------------------------------------------------------------------------------
def parse_clob_markets_page(body: bytes | str) -> tuple[list[ClobMarket], str | None]:
    """CLOB ``GET /markets?next_cursor=``: (markets, cursor of the next page or None).

    None at the end: the venue's last page carries ``next_cursor`` ``"LTE="``.
    """
    raw = _bytes(body)
    page = _decode(raw, ClobMarketsPage)
    markets = _convert(raw, lambda: [_clob_market(m) for m in page.data])
    cursor = page.next_cursor
    return markets, None if not cursor or cursor == config.CLOB_END_CURSOR else cursor


def parse_clob_market(body: bytes | str) -> ClobMarket:
    """CLOB ``GET /markets/{condition_id}``: one market."""
    raw = _bytes(body)
    return _convert(raw, lambda: _clob_market(_decode(raw, ClobMarketWire)))


def _clob_market(wire: ClobMarketWire) -> ClobMarket:
    return ClobMarket(
        condition_id=wire.condition_id,
        question_id=wire.question_id or None,
        question=wire.question,
        slug=wire.market_slug or None,
        end_ts_ns=_iso_ns(wire.end_date_iso, "end_date_iso"),
        active=wire.active,
        closed=wire.closed,
        archived=wire.archived,
        accepting_orders=wire.accepting_orders,
        enable_order_book=wire.enable_order_book,
        tick_size=raw_decimal(wire.minimum_tick_size, "minimum_tick_size"),
        min_order_size=raw_decimal(wire.minimum_order_size, "minimum_order_size"),
        maker_base_fee=raw_decimal(wire.maker_base_fee, "maker_base_fee"),
        taker_base_fee=raw_decimal(wire.taker_base_fee, "taker_base_fee"),
        neg_risk=bool(wire.neg_risk),
        neg_risk_market_id=wire.neg_risk_market_id or None,
        outcome_tokens=tuple(
            OutcomeToken(
                token_id=token.token_id,
                outcome=token.outcome,
                price=raw_decimal(token.price, "tokens.price"),
                winner=token.winner,
            )
            for token in wire.tokens
        ),
        tags=tuple(wire.tags or ()),
    )


def parse_token_book(body: bytes | str) -> TokenBook:
    """CLOB ``GET /book?token_id=``: the book of the token it names, levels sorted."""
    raw = _bytes(body)
    wire = _decode(raw, ClobBook)
    return _convert(
        raw,
        lambda: TokenBook(
            market=wire.market,
            asset_id=wire.asset_id,
            hash=wire.hash,
            ts_event_ns=timestamp_ns(wire.timestamp),
            bids=sorted_levels(wire.bids, "bids", descending=True),
            asks=sorted_levels(wire.asks, "asks", descending=False),
            tick_size=raw_decimal(wire.tick_size, "tick_size"),
            min_order_size=raw_decimal(wire.min_order_size, "min_order_size"),
            neg_risk=wire.neg_risk,
        ),
    )


def parse_book(body: bytes | str, ts_recv_ns: int, index: TokenIndex) -> BookSnapshot:
    """CLOB ``GET /book?token_id=`` as the canonical (YES) BookSnapshot of its market.

    The token is looked up in `index`: a YES token's book is the snapshot as it is; a NO
    token's book is mirrored exactly into the YES book (YES bids = 1 - NO asks, YES asks =
    1 - NO bids, same sizes), the relation the two books of one CLOB always satisfy.
    Raises ValueError for a token that is not in the index.
    """
    book = parse_token_book(body)
    found = index.lookup(book.asset_id)
    if found is None:
        raise ValueError(f"token {book.asset_id} of GET /book is not in the token index")
    tokens, is_yes = found
    bids, asks = book.bids, book.asks
    if not is_yes:
        bids = [PriceLevel(complement(level.price), level.size) for level in book.asks]
        asks = [PriceLevel(complement(level.price), level.size) for level in book.bids]
    return BookSnapshot(
        venue=config.VENUE,
        market=tokens.market,
        ts_event_ns=book.ts_event_ns,
        ts_recv_ns=ts_recv_ns,
        bids=bids,
        asks=asks,
    )


def parse_fee_rate(body: bytes | str) -> str:
    """CLOB ``GET /fee-rate?token_id=``: the token's base fee (basis points, decimal text)."""
    raw = _bytes(body)
    fee = _convert(raw, lambda: raw_decimal(_decode(raw, ClobFeeRate).base_fee, "base_fee"))
    if fee is None:
        raise MalformedFrame(raw, "base_fee: null")
    return fee


# -- helpers -------------------------------------------------------------------------------
def _bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)


def _decode(raw: bytes, kind: type[W]) -> W:
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        try:
            error = msgspec.json.decode(raw, type=ErrorBody)
        except msgspec.DecodeError:  # ValidationError is a subclass: not an error body either
            raise MalformedFrame(raw, f"unexpected body: {exc}") from None
        raise VenueRejectedError("error", error.error) from None
    except msgspec.DecodeError as exc:
        raise MalformedFrame(raw, f"not JSON: {exc}") from None


def _convert(raw: bytes, build: Callable[[], W]) -> W:
    """Run a conversion; a field whose text is not what it should be -> MalformedFrame."""
    try:
        return build()
    except BadValue as exc:
        raise MalformedFrame(raw, str(exc)) from None


def _encoded_list(value: EncodedList, field: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, list):
        return tuple(value)
    try:
        return tuple(msgspec.json.decode(value, type=list[str]))
    except msgspec.DecodeError as exc:
        raise BadValue(field, f"not a JSON-encoded string array: {exc}") from None


def _iso_ns(text: str | None, field: str) -> int | None:
    """Unix ns of an ISO 8601 time (``2026-03-12T09:25:00Z``); None when absent or empty."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadValue(field, f"not an ISO 8601 time: {text[:64]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000
