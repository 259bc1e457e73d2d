"""Kraken Futures frames into canonical events: ``ssmd.venues.kraken_futures.parse``.

The venue library's parser is the one wire -> canonical conversion (also used by the
simulator's replay); its `ParseResult` already has the ``events`` and ``control`` the
pipeline reads, so the adapter hands out its bound ``parse`` method as is.
"""

from __future__ import annotations

from ssmd.connector.adapters._template import FrameParser
from ssmd.venues.kraken_futures.parse import KrakenFuturesParser


def new_parser() -> FrameParser:
    """A parser (with its own market id cache) for one connector."""
    return KrakenFuturesParser().parse
