"""The Polymarket adapter, file by file as in `ssmd.connector.adapters._template`.

`config` (endpoints, the one market channel), `schemas` (control entries of
``ssmd.venues.polymarket.parse``), `parse` (the venue parser over the adapter's token
index), `stream` (subscribe by token ids, PING keep-alive, book-mismatch resync,
resolution), `rest` (market discovery and token lookup on the CLOB), `provider` (this
shard's markets) and `adapter`.
"""
