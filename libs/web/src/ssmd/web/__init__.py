"""ssmd.web: what every ssmd HTTP API shares (the gateway, the secmaster).

- `HttpServer`: uvicorn serving an ASGI app as one task of an `ssmd.core.runtime.Service`
  (socket bound at start, signals left to the Service, graceful stop on cancel).
- `RequestMetrics`: ASGI middleware counting requests by route template and status, and
  timing them, into the service's own Prometheus families.
"""

from ssmd.web.middleware import RequestMetricFamilies, RequestMetrics
from ssmd.web.server import HttpServer

__all__ = ["HttpServer", "RequestMetricFamilies", "RequestMetrics"]
