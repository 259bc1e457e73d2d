"""Kalshi (binary event contracts): Trade API WebSocket v2 and REST v2.

Modules, as in every venue package:

* `config`: the venue's constants (name, endpoints, channels, error codes).
* `wire`: WebSocket and REST messages as frozen structs named as on the wire.
* `parse`: `KalshiParser`, the one place where wire becomes canonical events.
* `book`: YES-leg books and exact number arithmetic (1 - q, increments to sizes).
* `rest`: REST reference data (series, events, markets, order book, trades).
* `requests`: the client's WebSocket commands (subscribe, update_subscription...).
* `auth`: RSA-PSS request signing (KALSHI-ACCESS-* headers).
"""
