"""The Kraken Futures adapter, file by file as in `ssmd.connector.adapters._template`.

`config` (endpoints, feeds), `schemas` (wire structs of ``ssmd.venues.kraken_futures``),
`parse` (the venue parser), `stream` (subscribe, acks, book re-snapshot), `rest` (market
discovery from ``GET /instruments``), `provider` (this shard's markets) and `adapter`.
"""
