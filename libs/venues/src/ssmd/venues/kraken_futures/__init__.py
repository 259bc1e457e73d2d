"""Kraken Futures (Kraken Derivatives): perpetuals and fixed-maturity futures.

Modules, as in every venue adapter:

* `config`: the venue's constants (name, endpoints, feed names, limits).
* `wire`: WebSocket v1 and public REST messages as frozen structs named as on the wire.
* `wire_private`: private feeds and trading endpoints (shapes only; used by the OMS).
* `parse`: `KrakenFuturesParser`, the one place where wire becomes canonical events.
* `rest`: REST reference data (instruments, tickers, order book) into `Instrument` and events.
* `requests`: the client's WebSocket requests (subscribe, unsubscribe, challenge).
"""
