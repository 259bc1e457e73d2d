"""ssmd-secmaster: the market universe of every venue, in Postgres schema ``secmaster``.

* `model`: `MarketRecord`, the canonical record a sync produces and the store keeps.
* `store`: idempotent upserts with change detection; every committed change writes its
  outbox row and status history in the same transaction.
* `sync`: venue REST sync (Kalshi, Kraken Futures, Polymarket), staged so a sync that dies
  midway leaves nothing half-applied and resumes where it stopped.
* `relay`: outbox -> ``SECMASTER`` stream (``ref.<venue>.<change>.<market>``), exactly once.
* `cache`: read-through Valkey/Redis cache (``sm:*``), invalidated by the change stream.
* `symbology`: canonical ids, venue symbols, versioned cross-venue links and a matcher.
* `status`: MarketStatus events of the md streams recorded as lifecycle changes.
* `queries`: the read SQL of lookups; `matcher`: the rule-based link matcher (pure).
* `api`: the lookup HTTP API (served by `ssmd.web.HttpServer`); `app`: composition;
  `metrics`: ``ssmd_secmaster_*``; `settings`:
  ``SSMD_SECMASTER_*``.
"""
