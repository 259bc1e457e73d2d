"""The simulated Polymarket venue: market channel, CLOB and Gamma REST, lifecycle, replay.

`exchange` is the venue (markets, connections, data loop) and `operations` what the control
API asks of it (faults, lifecycle moves, reads); `protocol` is the market-channel session,
`rest` and `metadata` the public REST endpoints; `symbols` derives every id from a market's
slug; `markets` renders one market's book (seen from both tokens) into `frames`;
`catalog` and `lifecycle` keep the listed markets and their states; `replay` plays
captures back.
"""
