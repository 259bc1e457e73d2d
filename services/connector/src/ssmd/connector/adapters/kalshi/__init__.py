"""The Kalshi adapter, file by file as in `ssmd.connector.adapters._template`.

`config` (endpoints, feeds), `schemas` (control structs of ``ssmd.venues.kalshi.parse``),
`parse` (the venue parser), `stream` (subscriptions in groups, per-sid sequence checks,
get_snapshot, error handling), `rest` (market discovery from ``GET /markets``), `provider`
(this shard's markets), `auth` (signed WebSocket upgrade) and `adapter`.
"""
