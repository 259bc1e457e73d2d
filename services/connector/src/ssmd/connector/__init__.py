"""ssmd.connector: one shard of a venue's market data, normalized into JetStream.

`app.Connector` composes the pieces; `__main__` reads settings and runs it in a
`Service`. Generic machinery: `session` (WebSocket, reconnect, watchdog), `pipeline` (the
per-frame hot path), `sequence` (gap detection), `books` (the connector's own L2 books),
`publishing` (subjects and dedup ids), `sharding`, `metrics`, `admin`. Venue specifics live
behind `adapters` (see `adapters._template`).
"""
