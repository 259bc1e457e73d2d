"""The lookup HTTP API: routes, their documentation, error answers and request metrics.

Route handlers only read parameters and call `Lookups` (reads, cached), `Symbology` (links
and the matcher) or the sync runner, and answer bytes those produced with msgspec; the
pydantic models here exist for the OpenAPI document at /docs and to check request bodies.

Errors are JSON ``{"error", "parameter", "reason"}``:

* 400 ``invalid_parameter``: a parameter or body field that is missing, of the wrong type or
  not acceptable (unknown venue or status, limit outside 1..1000, a foreign cursor...);
* 404 ``not_found``: no market has this id (or Polymarket token id);
* 409 ``busy``: a sync of that venue is already running in another process;
* 502 ``sync_failed``: the venue refused the sync for good (the reason says why);
* 503 ``unavailable``: Postgres (or a venue, for a sync) could not be reached.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal, Protocol

import msgspec
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Match, Route
from starlette.types import Scope

from ssmd.core.errors import PermanentError, TemporaryError, UnavailableError
from ssmd.secmaster.metrics import SecmasterMetrics
from ssmd.secmaster.queries import MAX_LIMIT, STATUSES, ListQuery, Lookups, ParameterError
from ssmd.secmaster.symbology import LinkRefusedError, Symbology, UnknownMarketError
from ssmd.secmaster.sync.runner import SyncBusyError
from ssmd.web import RequestMetrics

log = logging.getLogger(__name__)

_JSON = "application/json"
_encode = msgspec.json.Encoder().encode


class SyncControl(Protocol):
    """What the API needs of `ssmd.secmaster.sync.runner.SyncRunner`."""

    @property
    def venues(self) -> tuple[str, ...]: ...

    async def sync_venue(self, venue: str) -> object: ...

    def progress(self) -> Mapping[str, object]: ...


# -- request bodies and documentation models -------------------------------------------------
class LinkRequest(BaseModel):
    """A manual link decision between two markets of different venues."""

    model_config = ConfigDict(extra="forbid")

    left: str = Field(description="Canonical market id, e.g. kalshi:KXBTCD-25NOV30-T100000.")
    right: str = Field(description="Canonical market id on another venue.")
    state: Literal["proposed", "accepted", "rejected"] = Field(
        description="proposed, accepted (the same outcome) or rejected (not the same)."
    )
    note: str | None = Field(None, description="Why, for the next reader.")
    created_by: str = Field("api", min_length=1, max_length=100, description="Who decided.")


class MatchRequest(BaseModel):
    """Options of one matcher run; every field is optional."""

    model_config = ConfigDict(extra="forbid")

    venues: list[str] | None = Field(
        None, description="Venues to match (two or more). Default: every prediction venue."
    )
    min_score: float | None = Field(
        None, ge=0, le=1, description="Lowest score proposed. Default: matcher_min_score."
    )
    limit: int = Field(1000, ge=1, le=100_000, description="Most proposals answered.")
    save: bool = Field(True, description="Store proposals as 'proposed' links.")


class MarketDoc(BaseModel):
    market: str = Field(description="Canonical id '<venue>:<venue symbol>'.")
    venue: str
    symbol: str = Field(description="The venue's own symbol, exactly.")
    kind: str
    status: str
    result: str | None = None
    title: str | None = None
    event: str | None = None
    series: str | None = None
    category: str | None = None
    tokens: list[dict[str, Any]] = Field(description="Outcome tokens (Polymarket).")
    tick_size: str | None = Field(None, description="Exact decimal string.")
    contract_size: str | None = Field(None, description="Exact decimal string.")
    open_ts_ns: int | None = None
    close_ts_ns: int | None = None
    expiry_ts_ns: int | None = None
    attributes: dict[str, str]
    version: int = Field(description="+1 per committed change of this market.")
    listed: bool = Field(description="False once the venue stopped listing it.")
    updated_ts_ns: int


class MarketsDoc(BaseModel):
    markets: list[MarketDoc] = Field(description="Ordered by market id.")
    count: int
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: last.")


class LinkDoc(BaseModel):
    link_id: int
    left: str
    right: str
    other: str | None = Field(description="The linked market (the side that is not asked).")
    state: str
    origin: str = Field(description="manual or matcher.")
    score: float | None
    rule: str | None
    note: str | None
    version: int
    current: bool = Field(description="False for superseded versions (history=true).")
    created_ts_ns: int
    created_by: str


class LinksDoc(BaseModel):
    market: str
    links: list[LinkDoc]


class ErrorDoc(BaseModel):
    error: str = Field(description="invalid_parameter, not_found, busy, sync_failed, unavailable.")
    parameter: str | None = Field(None, description="The parameter at fault, if one is.")
    reason: str


def _error(status: int, error: str, reason: str, parameter: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": error, "parameter": parameter, "reason": reason}, status_code=status
    )


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=_JSON)


def _not_found(market: str) -> JSONResponse:
    return _error(404, "not_found", f"no market {market!r}", "market_id")


_E400: dict[int | str, dict[str, Any]] = {400: {"model": ErrorDoc}}
_E404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDoc}}


class _PlainRoute(Route):
    """A Starlette GET route that names itself in the scope, as FastAPI's routes do, so
    `RequestMetrics` labels it by its template."""

    def __init__(self, path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        super().__init__(path, endpoint, methods=["GET"], include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


# -- the application -------------------------------------------------------------------------
def create_app(
    lookups: Lookups, symbology: Symbology, sync: SyncControl, metrics: SecmasterMetrics
) -> FastAPI:
    """The FastAPI application over the given parts (built by `ssmd.secmaster.app`)."""
    app = FastAPI(
        title="ssmd secmaster",
        version="1",
        description=(
            "Market metadata of every venue: lookups by canonical id or Polymarket token id, "
            "filtered and searched lists, cross-venue links, and on-demand venue syncs."
        ),
        redoc_url=None,
    )
    app.add_middleware(RequestMetrics, metrics=metrics)

    @app.exception_handler(ParameterError)
    async def bad_parameter(_: Request, exc: ParameterError) -> JSONResponse:
        return _error(400, "invalid_parameter", exc.reason, exc.parameter)

    @app.exception_handler(LinkRefusedError)
    async def bad_link(_: Request, exc: LinkRefusedError) -> JSONResponse:
        return _error(400, "invalid_parameter", exc.reason, exc.parameter)

    @app.exception_handler(UnknownMarketError)
    async def unknown_market(_: Request, exc: UnknownMarketError) -> JSONResponse:
        return _error(404, "not_found", f"no market {exc.market!r}", exc.parameter)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            (str(error["loc"][-1]) if error.get("loc") else None, str(error.get("msg", "")))
            for error in exc.errors()
        ]
        parameter, reason = problems[0] if problems else (None, "invalid request")
        return _error(400, "invalid_parameter", reason, parameter)

    @app.exception_handler(UnavailableError)
    async def unavailable(_: Request, exc: UnavailableError) -> JSONResponse:
        log.warning("answering 503: %s", exc)
        return _error(503, "unavailable", str(exc))

    @app.get(
        "/v1/markets/{market_id}",
        response_model=MarketDoc,
        responses=_E404,
        summary="One market by canonical id or Polymarket token id",
    )
    async def get_market(
        market_id: Annotated[
            str,
            Path(description="'<venue>:<symbol>', 'polymarket:<token id>' or a bare token id."),
        ],
    ) -> Response:
        body = await lookups.market(market_id)
        return _not_found(market_id) if body is None else _json(body)

    async def get_market_fast(request: Request) -> Response:
        return await get_market(request.path_params["market_id"])

    # The hottest route skips FastAPI's per-request parameter machinery (~0.15 ms of a
    # ~1 ms cached lookup): a plain Starlette route, first in the router, serves it; the
    # FastAPI route above stays for the OpenAPI document.
    app.router.routes.insert(0, _PlainRoute("/v1/markets/{market_id}", get_market_fast))

    @app.get(
        "/v1/markets/{market_id}/links",
        response_model=LinksDoc,
        responses=_E404,
        summary="Cross-venue links of one market",
    )
    async def get_links(
        market_id: Annotated[str, Path(description="Canonical market id.")],
        history: Annotated[bool, Query(description="Every version, superseded ones too.")] = False,
    ) -> Response:
        body = await lookups.links(market_id, history=history)
        return _not_found(market_id) if body is None else _json(body)

    @app.get(
        "/v1/markets",
        response_model=MarketsDoc,
        responses=_E400,
        summary="Markets by venue, series, status and text, a page at a time",
    )
    async def list_markets(
        *,
        venue: Annotated[str | None, Query(description="Only this venue.")] = None,
        series: Annotated[str | None, Query(description="Only this series (Kalshi).")] = None,
        status: Annotated[str | None, Query(description=f"One of {list(STATUSES)}.")] = None,
        q: Annotated[
            str | None, Query(description="Words that must all appear (title, symbol, ...).")
        ] = None,
        limit: Annotated[
            str | None, Query(description=f"Page size, 1 to {MAX_LIMIT}; default 100.")
        ] = None,
        cursor: Annotated[
            str | None, Query(description="next_cursor of the previous page (same filters).")
        ] = None,
    ) -> Response:
        query = ListQuery.parse(
            venue=venue,
            series=series,
            status=status,
            q=q,
            limit=limit,
            cursor=cursor,
            venues=lookups.venues,
        )
        return _json(await lookups.markets(query))

    @app.post(
        "/v1/links",
        status_code=201,
        response_model=LinkDoc,
        responses={**_E400, **_E404},
        summary="Record a manual link decision (a new version of the pair's link)",
    )
    async def post_link(request: LinkRequest) -> Response:
        view = await symbology.link(
            request.left,
            request.right,
            state=request.state,
            note=request.note,
            created_by=request.created_by,
        )
        return _json(_encode(view), 201)

    @app.post("/v1/links/match", responses=_E400, summary="Run the link matcher now")
    async def post_match(request: MatchRequest | None = None) -> Response:
        options = request or MatchRequest()
        venues = None if options.venues is None else sorted(set(options.venues))
        if venues is not None:
            unknown = sorted(set(venues) - lookups.venues)
            if unknown or len(venues) < 2:
                reason = (
                    f"unknown venues {unknown}" if unknown else "name at least two different venues"
                )
                raise ParameterError("venues", reason)
        report = await symbology.match(
            venues, min_score=options.min_score, limit=options.limit, save=options.save
        )
        return _json(_encode(report))

    @app.post("/v1/sync", responses=_E400, summary="Sync a venue (or every venue) now")
    async def post_sync(
        venue: Annotated[str | None, Query(description="Only this venue; default all.")] = None,
    ) -> Response:
        if venue is not None and venue not in sync.venues:
            raise ParameterError("venue", f"not synced here; one of {list(sync.venues)}")
        reports = []
        for name in [venue] if venue is not None else sync.venues:
            try:
                reports.append(await sync.sync_venue(name))
            except SyncBusyError as exc:
                return _error(409, "busy", str(exc), "venue")
            except TemporaryError as exc:
                return _error(503, "unavailable", f"sync of {name}: {exc}", "venue")
            except PermanentError as exc:
                return _error(502, "sync_failed", f"sync of {name}: {exc}", "venue")
        return _json(_encode({"reports": reports}))

    @app.get("/v1/sync", summary="Progress of every venue's sync")
    async def get_sync() -> Response:
        return _json(_encode({"venues": sync.progress()}))

    return app
