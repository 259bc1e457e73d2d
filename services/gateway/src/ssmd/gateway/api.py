"""The HTTP API: routes, their documentation, error answers and request metrics.

Route handlers only read parameters, call the query modules (`ssmd.gateway.trades`,
`ssmd.gateway.feeds`) and encode the answer with msgspec (an order of magnitude faster than
FastAPI's per-item validation for 10,000 trades). The pydantic models here exist for the
OpenAPI document at /docs; a test checks real answers against them.

Errors are JSON ``{"error", "parameter", "reason"}``:

* 400 ``invalid_parameter``: a value that parses but is not acceptable (unknown venue,
  start not before end, limit above the maximum, range too long, unreadable time);
* 422 ``invalid_parameter``: a parameter missing or of the wrong type (FastAPI's check);
* 503 ``unavailable``: the archive could not be read; 504 ``timeout``: the query ran past
  ``query_timeout_s``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ssmd.core.clock import Clock
from ssmd.core.errors import TimeoutExpiredError, UnavailableError
from ssmd.gateway.feeds import feeds_answer
from ssmd.gateway.live import FeedBoard
from ssmd.gateway.metrics import GatewayMetrics
from ssmd.gateway.params import ParameterError
from ssmd.gateway.tails import VenueTails
from ssmd.gateway.trades import TradeQueries
from ssmd.web import RequestMetrics

log = logging.getLogger(__name__)

ARCHIVE_FILES_HEADER = "X-Ssmd-Archive-Files"
_JSON = "application/json"
_encode = msgspec.json.Encoder().encode


# -- documentation models (the answers themselves are msgspec structs) ----------------------
class TradeDoc(BaseModel):
    ts_event: str = Field(description="Venue time, ISO-8601 UTC with nanoseconds.")
    ts_event_ns: int = Field(description="Venue time, Unix nanoseconds.")
    price: str = Field(description="Exact decimal string.")
    size: str = Field(description="Exact decimal string.")
    side: str | None = Field(description="Taker side, 'buy' or 'sell', if the venue says.")
    trade_id: str | None = Field(description="The venue's trade id, if it has one.")
    seq: int | None = Field(description="Venue sequence number, if it has one.")


class SourcesDoc(BaseModel):
    archive: int = Field(description="Trades of this answer read from the Parquet archive.")
    tail: int = Field(description="Trades from JetStream that the archive does not hold yet.")


class TradesDoc(BaseModel):
    market: str
    start: str
    start_ns: int
    end: str
    end_ns: int
    count: int = Field(description="Number of trades in this answer.")
    truncated: bool = Field(
        description="More trades match: ask again from the last ts_event_ns (skip repeats)."
    )
    trades: list[TradeDoc] = Field(description="Ordered by ts_event, then seq, then msg id.")
    sources: SourcesDoc


class FeedDoc(BaseModel):
    venue: str
    channel: str = Field(description="Subject channel: trade, quote, book, status, funding.")
    market: str
    last_ts_event: str | None
    last_ts_event_ns: int | None
    last_ts_recv: str | None
    last_ts_recv_ns: int | None
    events: int = Field(description="Events seen since tail_window_s before start-up.")
    events_last_minute: int = Field(description="Events whose ts_recv is in the last 60 s.")
    rate_per_s: float
    gaps: int = Field(description="Gap events naming this channel and market.")
    last_gap: str | None
    lag_s: float | None = Field(description="Now minus ts_recv of the last event.")
    venue_delay_s: float | None = Field(description="ts_recv minus ts_event of the last event.")


class TailDoc(BaseModel):
    venue: str
    state: str = Field(description="starting, running, waiting (stream or NATS missing).")
    caught_up: bool
    messages: int
    pending: int
    resets: int
    bad_messages: int
    last_error: str


class FeedsDoc(BaseModel):
    now: str
    now_ns: int
    count: int
    feeds: list[FeedDoc]
    tails: list[TailDoc]


class ErrorDoc(BaseModel):
    error: str = Field(description="invalid_parameter, unavailable or timeout.")
    parameter: str | None = Field(None, description="The parameter at fault, if one is.")
    reason: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDoc, "description": "A parameter value is not acceptable."},
    422: {"model": ErrorDoc, "description": "A parameter is missing or of the wrong type."},
    503: {"model": ErrorDoc, "description": "The archive could not be read."},
    504: {"model": ErrorDoc, "description": "The query ran past its deadline."},
}


def _error(status: int, error: str, reason: str, parameter: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": error, "parameter": parameter, "reason": reason}, status_code=status
    )


# -- the application -----------------------------------------------------------------------
def create_app(
    queries: TradeQueries,
    board: FeedBoard,
    tails: VenueTails,
    metrics: GatewayMetrics,
    clock: Clock,
) -> FastAPI:
    """The FastAPI application over the given query objects (built by `__main__`)."""
    app = FastAPI(
        title="ssmd gateway",
        version="1",
        description=(
            "Trades from the Parquet archive joined with the live JetStream tail, and the "
            "health of every market-data feed. Times are ISO-8601 (UTC unless a zone is "
            "given, up to nanoseconds) or integer Unix nanoseconds."
        ),
        redoc_url=None,
    )
    app.add_middleware(RequestMetrics, metrics=metrics)

    @app.exception_handler(ParameterError)
    async def bad_parameter(_: Request, exc: ParameterError) -> JSONResponse:
        return _error(400, "invalid_parameter", exc.reason, exc.parameter)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            (str(error["loc"][-1]) if error.get("loc") else None, str(error.get("msg", "")))
            for error in exc.errors()
        ]
        parameter, reason = problems[0] if problems else (None, "invalid request")
        return _error(422, "invalid_parameter", reason, parameter)

    @app.exception_handler(TimeoutExpiredError)
    async def timed_out(_: Request, exc: TimeoutExpiredError) -> JSONResponse:
        return _error(504, "timeout", str(exc))

    @app.exception_handler(UnavailableError)
    async def unavailable(_: Request, exc: UnavailableError) -> JSONResponse:
        log.warning("answering 503: %s", exc)
        return _error(503, "unavailable", str(exc))

    @app.get(
        "/v1/trades",
        response_model=TradesDoc,
        responses=_ERRORS,
        summary="Trades of one market in a time range",
    )
    async def trades(
        market: Annotated[
            str, Query(description="Canonical market id, e.g. kraken_futures:PF_XBTUSD.")
        ],
        start: Annotated[
            str,
            Query(
                description=(
                    "Inclusive lower bound on ts_event: ISO-8601 (2024-05-01T12:00:00Z, "
                    "up to 9 fractional digits; no zone = UTC) or Unix nanoseconds."
                )
            ),
        ],
        end: Annotated[
            str | None,
            Query(description="Exclusive upper bound on ts_event, same forms. Default: now."),
        ] = None,
        limit: Annotated[
            int | None,
            Query(description="Most trades to return (default and maximum: see settings)."),
        ] = None,
    ) -> Response:
        result = await queries.answer(queries.query(market, start, end, limit))
        return Response(
            _encode(result.answer),
            media_type=_JSON,
            headers={ARCHIVE_FILES_HEADER: str(result.files_read)},
        )

    @app.get(
        "/v1/feeds",
        response_model=FeedsDoc,
        responses={400: _ERRORS[400], 422: _ERRORS[422]},
        summary="Health of every market-data feed seen on the tail",
    )
    async def feeds(
        venue: Annotated[str | None, Query(description="Only this venue.")] = None,
        channel: Annotated[
            str | None,
            Query(description="Only this channel (trade, quote, book, status, funding)."),
        ] = None,
        market: Annotated[str | None, Query(description="Only this canonical market id.")] = None,
    ) -> Response:
        answer = feeds_answer(board, tails, clock, venue=venue, channel=channel, market=market)
        return Response(_encode(answer), media_type=_JSON)

    return app
