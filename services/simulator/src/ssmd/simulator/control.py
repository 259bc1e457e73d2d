"""The control API (``/control/...``): what tests and benchmarks ask the simulator.

* ``GET /control/ledger`` -> the ledger as a JSON array, or JSON Lines with
  ``format=jsonl`` (streamed; for large ledgers). Filters: ``kind``, ``feed``, ``product``,
  ``connection``, ``since`` (ledger index), ``limit``.
* ``GET /control/ledger/summary`` -> totals and per (connection, kind, feed, product) counts
  with first and last sequence numbers.
* ``POST /control/faults`` with a `FaultRequest` body -> what was done (400 if it cannot be).
* ``GET /control/book?product=`` -> the simulator's own book of a product (its truth) and
  its current ``seq``.
* ``GET /control/connections`` -> open connections and their subscriptions.
* ``GET /control/replay`` / ``POST /control/replay`` with ``{"speed": x, "skip_lines": [..]}``
  -> the replay options for connections that start a replay from now on.
* ``POST /control/lifecycle`` with a `LifecycleRequest` (``{"product", "action", "result"}``)
  -> a market is created, opened, paused, closed, determined or settled now (Kalshi and
  Polymarket; 400 on Kraken Futures, whose products have no such lifecycle).

Handlers only translate HTTP; the work is in the venue's exchange (`ssmd.simulator.venue`)
and the ledger.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec
from aiohttp import web

from ssmd.simulator.faults import FaultRequest
from ssmd.simulator.ledger import Kind, Ledger
from ssmd.simulator.venue import LifecycleRequest, VenueExchange

LEDGER_KEY: Final = web.AppKey("ledger", Ledger)
EXCHANGE_KEY: Final = web.AppKey("venue_exchange", VenueExchange)
_ENCODER: Final = msgspec.json.Encoder()
_JSONL_CHUNK_LINES: Final = 2000
_KINDS: Final = ("data", "control", "fault")


class ReplayRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /control/replay``; absent fields keep their value."""

    speed: float | None = None
    skip_lines: list[int] | None = None


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=_ENCODER.encode(data), status=status, content_type="application/json")


def _bad_request(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=_error_text(reason), content_type="application/json")


def _error_text(reason: str) -> str:
    return _ENCODER.encode({"error": reason}).decode()


def _int_param(request: web.Request, name: str) -> int | None:
    text = request.query.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise _bad_request(f"{name} must be an integer") from None


async def ledger(request: web.Request) -> web.StreamResponse:
    kind_text = request.query.get("kind")
    if kind_text is not None and kind_text not in _KINDS:
        raise _bad_request(f"kind must be one of {_KINDS}")
    kind: Kind | None = kind_text  # type: ignore[assignment]  # checked just above
    output: Literal["json", "jsonl"] = "jsonl" if request.query.get("format") == "jsonl" else "json"
    entries = request.app[LEDGER_KEY].iter_entries(
        kind=kind,
        feed=request.query.get("feed"),
        product=request.query.get("product"),
        connection=_int_param(request, "connection"),
        since=_int_param(request, "since") or 0,
        limit=_int_param(request, "limit"),
    )
    if output == "json":
        return _json(list(entries))
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    chunk: list[bytes] = []
    for entry in entries:
        chunk.append(_ENCODER.encode(entry))
        if len(chunk) >= _JSONL_CHUNK_LINES:
            await response.write(b"\n".join(chunk) + b"\n")
            chunk = []
    if chunk:
        await response.write(b"\n".join(chunk) + b"\n")
    await response.write_eof()
    return response


async def ledger_summary(request: web.Request) -> web.Response:
    return _json(request.app[LEDGER_KEY].summary())


async def faults(request: web.Request) -> web.Response:
    try:
        fault = msgspec.json.decode(await request.read(), type=FaultRequest)
    except msgspec.DecodeError as exc:
        raise _bad_request(f"bad fault request: {exc}") from None
    try:
        result = await request.app[EXCHANGE_KEY].apply_fault(fault)
    except ValueError as exc:
        raise _bad_request(str(exc)) from None
    return _json({"action": fault.action, **result})


async def book(request: web.Request) -> web.Response:
    product = request.query.get("product", "")
    state = request.app[EXCHANGE_KEY].book_state(product)
    if state is None:
        raise web.HTTPNotFound(
            text=_error_text(f"no synthetic book for {product!r}"), content_type="application/json"
        )
    return _json(state)


async def connections(request: web.Request) -> web.Response:
    return _json(request.app[EXCHANGE_KEY].connection_states())


async def get_replay(request: web.Request) -> web.Response:
    return _json(request.app[EXCHANGE_KEY].replay_state())


async def set_replay(request: web.Request) -> web.Response:
    exchange = request.app[EXCHANGE_KEY]
    try:
        update = msgspec.json.decode(await request.read(), type=ReplayRequest)
    except msgspec.DecodeError as exc:
        raise _bad_request(f"bad replay request: {exc}") from None
    try:
        exchange.set_replay(update.speed, update.skip_lines)
    except ValueError as exc:
        raise _bad_request(str(exc)) from None
    return _json(exchange.replay_state())


async def lifecycle(request: web.Request) -> web.Response:
    try:
        change = msgspec.json.decode(await request.read(), type=LifecycleRequest)
    except msgspec.DecodeError as exc:
        raise _bad_request(f"bad lifecycle request: {exc}") from None
    try:
        result = request.app[EXCHANGE_KEY].lifecycle(change)
    except ValueError as exc:
        raise _bad_request(str(exc)) from None
    return _json({"product": change.product, "action": change.action, **result})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/control/ledger", ledger)
    app.router.add_get("/control/ledger/summary", ledger_summary)
    app.router.add_post("/control/faults", faults)
    app.router.add_get("/control/book", book)
    app.router.add_get("/control/connections", connections)
    app.router.add_get("/control/replay", get_replay)
    app.router.add_post("/control/replay", set_replay)
    app.router.add_post("/control/lifecycle", lifecycle)
