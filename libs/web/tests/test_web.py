"""`HttpServer` serves an app as a task and stops gracefully; `RequestMetrics` labels by
route template."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ssmd.web import HttpServer, RequestMetrics

pytestmark = pytest.mark.integration


class Families:
    def __init__(self) -> None:
        registry = CollectorRegistry()
        self.requests = Counter("t_requests", "requests", ["route", "status"], registry=registry)
        self.request_seconds = Histogram("t_seconds", "seconds", ["route"], registry=registry)


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello {request.path_params['name']}")


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def test_serves_counts_by_template_and_stops_on_cancel() -> None:
    families = Families()
    app = Starlette(routes=[Route("/hello/{name}", _hello)])
    app.add_middleware(RequestMetrics, metrics=families)
    server = HttpServer(app, host="127.0.0.1", port=0, graceful_timeout_s=1)
    assert server.port > 0
    task = asyncio.create_task(server.serve())
    try:
        for name in ("a", "b"):
            status, body = await asyncio.to_thread(_get, f"{server.url}/hello/{name}")
            assert (status, body) == (200, f"hello {name}".encode())
        status, _ = await asyncio.to_thread(_get, f"{server.url}/nowhere")
        assert status == 404
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        server.close()
    assert families.requests.labels("/hello/{name}", "200")._value.get() == 2
    assert families.requests.labels("unmatched", "404")._value.get() == 1
