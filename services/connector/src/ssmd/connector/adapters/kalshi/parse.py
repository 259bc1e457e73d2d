"""Kalshi frames into canonical events: ``ssmd.venues.kalshi.parse``.

The venue library's parser is the one wire -> canonical conversion; it keeps each market's
resting sizes (Kalshi deltas are increments), so one parser serves one connection.
"""

from __future__ import annotations

from ssmd.connector.adapters._template import FrameParser
from ssmd.venues.kalshi.parse import KalshiParser


def new_parser() -> FrameParser:
    """A parser (with its own books and market id cache) for one connection."""
    return KalshiParser().parse
