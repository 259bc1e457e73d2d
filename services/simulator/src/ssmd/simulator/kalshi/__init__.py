"""The simulated Kalshi venue: markets, WebSocket sessions, REST, lifecycle, replay.

`exchange` is the venue (markets, connections, data loop, lifecycle, faults); `protocol`
the Trade API WebSocket v2 session and `auth` its signed handshake; `rest` and
`rest_wire` the public REST market data; `catalog`, `markets`, `frames` and `fanout` turn
the synthetic market into Kalshi frames; `lifecycle` moves markets through their statuses;
`replay` plays captures back; `symbols` names the markets served.
"""
