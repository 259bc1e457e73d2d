"""ssmd.venues: everything about a venue's wire that more than one service needs.

Per venue (``ssmd.venues.kraken_futures``, ...): the wire schemas (frozen structs named as
on the wire), the one parser from wire to canonical events, REST reference data and the
venue's constants. Venue-agnostic: `book.OrderBook` (an L2 book), `capture` (recorded
traffic files), `numbers` (exact number text) and `errors`. Used by the connector, the OMS
adapters and the simulator; never imports a service.
"""
