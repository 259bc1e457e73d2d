"""Venue REST sync: each venue's full listing, staged page by page, applied in one go.

* `runner`: `SyncRunner` (staging, resume, apply, schedule) and `SyncReport`;
* `source`: the `VenueSource` protocol every venue implements;
* `kalshi`, `kraken_futures`, `polymarket`: each venue's pages and its mapping of REST rows
  (through the ``ssmd.venues`` parsers) into `MarketRecord`s;
* `http`: `RestClient`, the one rate-limited, retrying GET.
"""

from ssmd.secmaster.sync.runner import SyncBusyError, SyncReport, SyncRunner

__all__ = ["SyncBusyError", "SyncReport", "SyncRunner"]
