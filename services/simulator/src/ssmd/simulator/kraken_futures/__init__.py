"""The simulated Kraken Futures venue: products, sessions, REST, replay.

`exchange` is the venue (products, connections, data loop, faults); `protocol` the
WebSocket session; `rest` the public REST endpoints; `product_state`, `products` and
`frames` turn the synthetic market into venue frames; `replay` plays captures back.
"""
