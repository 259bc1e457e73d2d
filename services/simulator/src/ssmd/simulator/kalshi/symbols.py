"""Kalshi market tickers the simulator serves, and its default set.

A market ticker reads ``SERIES-EVENTCODE-STRIKE`` (VENUES.md 1.9): the series ticker is the
first ``-`` segment, the event ticker the first two, and the rest names the contract
(``T<value>`` a threshold, ``B<value>`` a bucket). Real tickers contain ``.``
(``KXHIGHNY-26NOV21-B53.5``), so ``[A-Z0-9.-]`` is accepted. Tickers are printed in upper
case, so requested ones are upper-cased here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

DEFAULT_MARKETS: Final = (
    "KXHIGHNY-26NOV21-B53.5",
    "KXHIGHNY-26NOV21-B55.5",
    "KXBTCD-26NOV2117-T99999.99",
    "KXBTCD-26NOV2117-T102499.99",
    "KXFED-26DEC-T4.00",
    "KXINXD-26NOV21-B6487",
)
"""Two temperature buckets, two bitcoin thresholds, a Fed-rate and an S&P 500 market."""

_TICKER_RE: Final = re.compile(r"[A-Z0-9.]+(?:-[A-Z0-9.]+){2,}")
_MIN_SEGMENTS: Final = 3


def is_market_ticker(ticker: str) -> bool:
    """Whether `ticker` (already upper case) has the SERIES-EVENTCODE-STRIKE shape."""
    return _TICKER_RE.fullmatch(ticker) is not None


def normalize_markets(markets: Sequence[str]) -> list[str]:
    """Upper-cased market tickers; ValueError naming the ones the simulator cannot serve."""
    upper = [ticker.upper() for ticker in markets]
    bad = [ticker for ticker in upper if not is_market_ticker(ticker)]
    if bad:
        raise ValueError(
            f"unsupported market tickers {bad}: use SERIES-EVENTCODE-STRIKE "
            f"({_MIN_SEGMENTS}+ '-'-separated segments of A-Z, 0-9 and '.')"
        )
    return upper


def series_ticker(market_ticker: str) -> str:
    """``KXHIGHNY`` of ``KXHIGHNY-26NOV21-B53.5``."""
    return market_ticker.split("-", 1)[0]


def event_ticker(market_ticker: str) -> str:
    """``KXHIGHNY-26NOV21`` of ``KXHIGHNY-26NOV21-B53.5``."""
    return "-".join(market_ticker.split("-", 2)[:2])
