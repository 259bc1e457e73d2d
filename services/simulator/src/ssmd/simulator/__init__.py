"""ssmd.simulator: local venues that speak each venue's real protocol, for demos and tests.

Kraken Futures first (`kraken_futures`): WebSocket v1 and public REST, synthetic markets
(regime-switching prices, Poisson trades, books that trades consume) or the replay of a
capture, a ledger of everything sent, and fault injection through a control API. Run it with
``python -m ssmd.simulator`` or ``ssmd-simulator``; see `settings` for what can be set.
"""
