"""Polymarket frames into canonical events: ``ssmd.venues.polymarket.parse``.

The parser reads the adapter's token index live (token id -> market and leg), so markets
added at runtime are understood as soon as their tokens are known; it keeps each market's
YES book to detect lost price changes, so one parser serves one connection.
"""

from __future__ import annotations

from ssmd.connector.adapters._template import FrameParser
from ssmd.venues.polymarket.parse import PolymarketParser
from ssmd.venues.polymarket.tokens import TokenIndex


def new_parser(index: TokenIndex) -> FrameParser:
    return PolymarketParser(index).parse
