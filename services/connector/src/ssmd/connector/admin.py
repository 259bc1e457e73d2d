"""The connector's admin server: the runtime's /healthz, /readyz, /metrics plus /debug/*.

* ``GET /debug/book?market=<market id or venue symbol>[&depth=N]`` -> the connector's own
  book of one market: ``synced``, ``seq``, level counts and the top ``depth`` (default 10,
  ``all`` for every level) bids and asks as ``[price, size]`` strings, best first. 404 for
  a market without a book.
* ``GET /debug/markets`` -> the markets this shard serves and whether each book is synced.

`ConnectorService` is the core `Service` with these routes added to its admin app (the
runtime has no hook for extra routes yet; see the report).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry

from ssmd.connector.books import BookKeeper
from ssmd.core.runtime import Service
from ssmd.core.service_settings import RuntimeSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_DEPTH: Final = 10
MAX_DEPTH: Final = 10_000


class ConnectorService(Service):
    """A `Service` whose admin app also serves the connector's debug routes."""

    def __init__(
        self, name: str, runtime: RuntimeSettings, *, registry: CollectorRegistry | None = None
    ) -> None:
        super().__init__(
            name,
            admin_host=runtime.admin_host,
            admin_port=runtime.admin_port,
            registry=registry,
            drain_timeout_s=runtime.drain_timeout_s,
        )
        self._routes: list[tuple[str, Handler]] = []

    def add_get_route(self, path: str, handler: Handler) -> None:
        """Serve ``GET path`` on the admin port (register before the server starts)."""
        self._routes.append((path, handler))

    def admin_app(self) -> web.Application:
        app = super().admin_app()
        for path, handler in self._routes:
            app.router.add_get(path, handler)
        return app


def _depth(request: web.Request) -> int | None:
    text = request.query.get("depth", str(DEFAULT_DEPTH))
    if text == "all":
        return None
    try:
        depth = int(text)
    except ValueError:
        raise web.HTTPBadRequest(text="depth must be an integer or 'all'") from None
    if not 1 <= depth <= MAX_DEPTH:
        raise web.HTTPBadRequest(text=f"depth must be within 1..{MAX_DEPTH}")
    return depth


def book_handler(books: BookKeeper, market_id_of: Callable[[str], str]) -> Handler:
    """``/debug/book``: `market` is a canonical market id, else a venue symbol."""

    async def handle(request: web.Request) -> web.StreamResponse:
        given = request.query.get("market")
        if not given:
            raise web.HTTPBadRequest(text="market is required (market id or venue symbol)")
        depth = _depth(request)
        state = books.get(given)
        if state is None:
            try:
                state = books.get(market_id_of(given))
            except ValueError:
                state = None
        if state is None:
            raise web.HTTPNotFound(text=f"no book for {given!r}")
        return web.json_response(state.as_json(depth))

    return handle


def markets_handler(books: BookKeeper, markets: Callable[[], Sequence[str]]) -> Handler:
    """``/debug/markets``: this shard's markets and the state of their books."""

    async def handle(_request: web.Request) -> web.StreamResponse:
        rows = []
        for market in markets():
            state = books.get(market)
            rows.append(
                {
                    "market": market,
                    "synced": state is not None and state.synced,
                    "seq": None if state is None else state.seq,
                }
            )
        return web.json_response({"markets": rows})

    return handle
