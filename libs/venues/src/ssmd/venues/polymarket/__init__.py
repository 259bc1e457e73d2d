"""Polymarket (CLOB on Polygon, binary outcome tokens): market channel WS, CLOB and Gamma REST.

Modules, as in every venue package:

* `config`: the venue's constants (name, endpoints, event types, limits).
* `wire`: WebSocket and REST messages as frozen structs named as on the wire.
* `parse`: `PolymarketParser`, the one place where wire becomes canonical events.
* `rest`: Gamma and CLOB reference data (markets, events, tokens, book).
* `requests`: the client's market-channel frames (subscribe, unsubscribe, PING).
* `tokens`: `MarketTokens` (condition id + YES/NO token ids) and the live `TokenIndex`.
"""
