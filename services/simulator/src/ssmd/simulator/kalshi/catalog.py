"""What the simulated Kalshi lists: series, events and markets, with realistic metadata.

Everything here is derived from the market ticker (VENUES.md 1.9): the series (its title,
category and settlement source come from a small table of well-known series, a generic
entry otherwise), the event (its date from the event code ``YYMMMDD[HH]`` when it reads as
one), and the strike (``T<value>``: above a threshold; ``B<value>``: a bucket around the
value). `MarketInfo` also carries the market's lifecycle status and timestamps, which
`ssmd.simulator.kalshi.lifecycle` moves on.
"""

from __future__ import annotations

import functools
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from ssmd.simulator.kalshi.symbols import event_ticker, series_ticker
from ssmd.venues.numbers import decimal_text

NS_PER_S: Final = 1_000_000_000
_DAY_NS: Final = 86_400 * NS_PER_S
_DEFAULT_CLOSE_DAYS: Final = 7
_DEFAULT_CLOSE_HOUR: Final = 23
_EXPIRATION_DELAY_NS: Final = 3_600 * NS_PER_S
_LATEST_EXPIRATION_DAYS: Final = 7
_EVENT_CODE_RE: Final = re.compile(r"(\d{2})([A-Z]{3})(\d{2})?(\d{2})?")
_MONTHS: Final = (
    "JAN",
    "FEB",
    "MAR",
    "APR",
    "MAY",
    "JUN",
    "JUL",
    "AUG",
    "SEP",
    "OCT",
    "NOV",
    "DEC",
)
_DEFAULT_DAY: Final = 28


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """A series (template of events) as ``GET /series`` lists it."""

    ticker: str
    title: str
    category: str
    frequency: str
    tags: tuple[str, ...]
    source_name: str
    source_url: str
    bucket_half_width: str = "0.5"
    unit: str = ""


_KNOWN_SERIES: Final = {
    "KXHIGHNY": SeriesInfo(
        "KXHIGHNY",
        "Highest temperature in NYC",
        "Climate and Weather",
        "daily",
        ("Weather",),
        "National Weather Service",
        "https://www.weather.gov/",
        unit="°",
    ),
    "KXBTCD": SeriesInfo(
        "KXBTCD",
        "Bitcoin price",
        "Crypto",
        "hourly",
        ("BTC",),
        "CF Benchmarks",
        "https://www.cfbenchmarks.com/",
    ),
    "KXFED": SeriesInfo(
        "KXFED",
        "Fed funds target rate",
        "Economics",
        "custom",
        ("Fed",),
        "Federal Reserve",
        "https://www.federalreserve.gov/",
        unit="%",
    ),
    "KXINXD": SeriesInfo(
        "KXINXD",
        "S&P 500 close",
        "Financials",
        "daily",
        ("S&P",),
        "S&P Dow Jones Indices",
        "https://www.spglobal.com/spdji/",
        bucket_half_width="12.5",
    ),
}


def series_info(ticker: str) -> SeriesInfo:
    """The series `ticker` names: a known one, or a generic entry."""
    known = _KNOWN_SERIES.get(ticker)
    if known is not None:
        return known
    return SeriesInfo(
        ticker, f"{ticker} outcomes", "Economics", "daily", (), "Kalshi", "https://kalshi.com/"
    )


@dataclass(slots=True)
class EventInfo:
    """An event: one instance of a series; its markets in listing order."""

    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    strike_ns: int | None
    created_ns: int
    markets: list[str] = field(default_factory=list)
    mutually_exclusive: bool = False


@dataclass(slots=True)
class MarketInfo:
    """One market's terms, texts and lifecycle state (status, timestamps, result)."""

    ticker: str
    event_ticker: str
    series_ticker: str
    market_id: str
    title: str
    yes_sub_title: str
    no_sub_title: str
    rules_primary: str
    strike_type: str
    floor_strike: str | None
    cap_strike: str | None
    created_ns: int
    open_ns: int
    close_ns: int
    status: str = "active"
    updated_ns: int = 0
    result: str = ""
    determination_ns: int | None = None
    settled_ns: int | None = None

    @property
    def expected_expiration_ns(self) -> int:
        return self.close_ns + _EXPIRATION_DELAY_NS

    @property
    def latest_expiration_ns(self) -> int:
        return self.close_ns + _LATEST_EXPIRATION_DAYS * _DAY_NS

    @property
    def settlement_value(self) -> str | None:
        """``1.0000``/``0.0000`` once determined, else None."""
        if not self.result:
            return None
        return "1.0000" if self.result == "yes" else "0.0000"


def event_date(code: str) -> datetime | None:
    """The date (and hour) an event code such as ``26NOV21`` or ``26NOV2117`` names."""
    match = _EVENT_CODE_RE.fullmatch(code)
    if match is None or match.group(2) not in _MONTHS:
        return None
    year, month_text, day_text, hour_text = match.groups()
    try:
        return datetime(
            2000 + int(year),
            _MONTHS.index(month_text) + 1,
            int(day_text) if day_text else _DEFAULT_DAY,
            int(hour_text) if hour_text else _DEFAULT_CLOSE_HOUR,
            tzinfo=UTC,
        )
    except ValueError:  # 26FEB31 and the like
        return None


def _strike(ticker: str, series: SeriesInfo) -> tuple[str, str | None, str | None, str]:
    """(strike_type, floor_strike, cap_strike, yes_sub_title) of the ticker's last segment."""
    suffix = ticker.rsplit("-", 1)[1]
    try:
        value = Decimal(suffix[1:])
    except InvalidOperation:
        value = None
    if value is not None and value.is_finite() and suffix[:1] == "T":
        text = decimal_text(value)
        return "greater", text, None, f"Above {text}{series.unit}"
    if value is not None and value.is_finite() and suffix[:1] == "B":
        half = Decimal(series.bucket_half_width)
        floor, cap = decimal_text(value - half), decimal_text(value + half)
        return "between", floor, cap, f"{floor}{series.unit} to {cap}{series.unit}"
    return "custom", None, None, suffix


def _date_text(moment: datetime | None, code: str) -> str:
    return moment.strftime("%b %d, %Y") if moment is not None else code


def new_event(ticker: str, now_ns: int) -> EventInfo:
    """The event of market `ticker`, first listed at `now_ns`."""
    event, series = event_ticker(ticker), series_info(series_ticker(ticker))
    code = event.split("-", 1)[1]
    moment = event_date(code)
    return EventInfo(
        event_ticker=event,
        series_ticker=series.ticker,
        title=f"{series.title} on {_date_text(moment, code)}?",
        sub_title=f"On {_date_text(moment, code)}",
        strike_ns=int(moment.timestamp()) * NS_PER_S if moment is not None else None,
        created_ns=now_ns,
        mutually_exclusive=ticker.rsplit("-", 1)[1][:1] == "B",
    )


def new_market(ticker: str, event: EventInfo, seed: int, now_ns: int) -> MarketInfo:
    """Market `ticker` as listed at `now_ns`; its UUID comes from the seed."""
    series = series_info(event.series_ticker)
    strike_type, floor, cap, yes_sub_title = _strike(ticker, series)
    close_ns = event.strike_ns if event.strike_ns is not None else 0
    if close_ns <= now_ns:  # undated, or dated in the past: a week from now
        close_ns = (now_ns // NS_PER_S + _DEFAULT_CLOSE_DAYS * 86_400) * NS_PER_S
    id_rng = random.Random(f"market_id:{seed}:{ticker}")
    return MarketInfo(
        ticker=ticker,
        event_ticker=event.event_ticker,
        series_ticker=event.series_ticker,
        market_id=str(uuid.UUID(int=id_rng.getrandbits(128), version=4)),
        title=event.title,
        yes_sub_title=yes_sub_title,
        no_sub_title=yes_sub_title,
        rules_primary=(
            f"If the {series.title} is {yes_sub_title} on {event.sub_title[3:]}, "
            "then the market resolves to Yes."
        ),
        strike_type=strike_type,
        floor_strike=floor,
        cap_strike=cap,
        created_ns=now_ns,
        open_ns=now_ns,
        close_ns=close_ns,
        updated_ns=now_ns,
    )


@functools.lru_cache(maxsize=1 << 16)  # many markets share their listing times
def rfc3339(ts_ns: int, *, micros: bool = False) -> str:
    """``2025-08-28T20:40:16Z`` (or with microseconds, as Kalshi prints created_time)."""
    seconds, rest = divmod(ts_ns, NS_PER_S)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{rest // 1000:06d}Z" if micros else f"{text}Z"
