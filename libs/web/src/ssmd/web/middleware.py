"""`RequestMetrics`: ASGI middleware counting requests by route template and status.

The families are the service's own (``ssmd_gateway_requests``, ``ssmd_secmaster_requests``
...): anything with a ``requests`` counter labelled (route, status) and a
``request_seconds`` histogram labelled (route) fits `RequestMetricFamilies`. The route is
the matched template (``/v1/markets/{market}``), never the raw path, so label cardinality
stays bounded; unmatched paths count as ``unmatched``.
"""

from __future__ import annotations

import time
from typing import Protocol

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestMetricFamilies(Protocol):
    """The two families a service exports for its HTTP API."""

    @property
    def requests(self) -> Counter: ...

    @property
    def request_seconds(self) -> Histogram: ...


class RequestMetrics:
    """ASGI middleware; see module doc."""

    def __init__(self, app: ASGIApp, metrics: RequestMetricFamilies) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self._metrics.requests.labels(route, str(status)).inc()
            self._metrics.request_seconds.labels(route).observe(time.perf_counter() - started)
