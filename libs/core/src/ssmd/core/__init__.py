"""ssmd.core: what every ssmd service stands on.

settings (validated, frozen, secrets masked), clock (live and simulated), ids, money
(exact decimals), errors (the type says retry or not), retry (capped jittered backoff),
logging (JSON in Kubernetes), tracing (W3C context in message headers) and runtime (admin
endpoints and graceful shutdown). Import from the submodules: ``from ssmd.core.clock import
LiveClock``.
"""
