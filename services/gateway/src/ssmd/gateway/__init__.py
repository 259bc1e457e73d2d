"""ssmd.gateway: the HTTP API over the Parquet archive and the live JetStream tail.

``GET /v1/trades`` joins DuckDB reads of only the archive partitions a range can touch with
the trades the archiver has not flushed yet (an ordered JetStream tail, deduplicated by
``msg_id``); ``GET /v1/feeds`` reports each feed's last event, rate, gaps and lag. OpenAPI at
``/docs``; ``/healthz``, ``/readyz`` and ``/metrics`` on the admin port.

Modules: `settings`, `params` (times, market ids), `archive` (partitions, DuckDB),
`live` (recent trades, feed board), `tails` (venue tails), `trades` and `feeds` (the
queries), `api` (routes), `metrics`, `service` (wiring; uvicorn through `ssmd.web.HttpServer`),
`__main__` (composition).
"""
