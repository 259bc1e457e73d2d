"""Kraken Futures product ids the simulator serves, and its default set.

Perpetuals ``PF_<BASE>USD`` (linear) / ``PI_<BASE>USD`` (inverse) and fixed maturities
``FF_/FI_<BASE>USD_<yymmdd>``; the venue treats ids case-insensitively and prints them in
upper case, so they are upper-cased here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

DEFAULT_MARKETS: Final = ("PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "FF_XBTUSD_270326")
"""Three linear perpetuals and one quarterly future."""

_SYMBOL_RE: Final = re.compile(r"(?:PF|PI)_[A-Z0-9]+USD|(?:FF|FI)_[A-Z0-9]+USD_[0-9]{6}")


def normalize_markets(markets: Sequence[str]) -> list[str]:
    """Upper-cased product ids; ValueError naming the ones the simulator cannot serve."""
    upper = [symbol.upper() for symbol in markets]
    bad = [symbol for symbol in upper if _SYMBOL_RE.fullmatch(symbol) is None]
    if bad:
        raise ValueError(
            f"unsupported symbols {bad}: use PF_/PI_<BASE>USD or FF_/FI_<BASE>USD_<yymmdd>"
        )
    return upper
