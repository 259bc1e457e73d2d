"""What a venue sync source is: pages of staged rows, then the records they make.

A `VenueSource` fetches one page at a time from an opaque cursor (None: the first page) and
returns its rows already converted to secmaster types (`StagedRow`: a `MarketRecord`,
`SeriesRow` or `EventRow` as JSON) and the cursor of the next page (None: the last page).
The runner stages each page with its cursor in one transaction; when paging is over it
hands every staged row back to the source's `finish`, which joins them into the final
`MarketRecord`s (Kalshi fills each market's series and category from the staged series and
events). Sources keep no state between pages, so a run resumes from its saved cursor in a
new process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

import msgspec

from ssmd.secmaster.model import MarketRecord
from ssmd.secmaster.store import EventRow, SeriesRow

StagedKind = Literal["market", "series", "event"]
_ENCODER: Final = msgspec.json.Encoder(order="deterministic")


@dataclass(frozen=True, slots=True)
class StagedRow:
    """One row of a page: its kind, its key within the kind, and its JSON."""

    kind: StagedKind
    key: str
    data: bytes


def market_row(record: MarketRecord) -> StagedRow:
    return StagedRow("market", record.market, record.to_json())


def series_row(series: SeriesRow) -> StagedRow:
    return StagedRow("series", series.series, _ENCODER.encode(series))


def event_row(event: EventRow) -> StagedRow:
    return StagedRow("event", event.event, _ENCODER.encode(event))


@dataclass(frozen=True, slots=True)
class SourcePage:
    """One fetched page: rows to stage, the next cursor (None at the end), rows skipped."""

    rows: list[StagedRow]
    next_cursor: str | None
    skipped: int = 0
    skipped_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Staged:
    """Everything a run staged, decoded."""

    records: list[MarketRecord]
    series: list[SeriesRow]
    events: list[EventRow]


class VenueSource(Protocol):
    """One venue's REST listing; see module doc."""

    @property
    def venue(self) -> str: ...

    async def fetch_page(self, cursor: str | None) -> SourcePage:
        """The page at `cursor` (None: the first)."""
        ...

    def finish(self, staged: Staged) -> list[MarketRecord]:
        """The final records of a run from everything it staged."""
        ...


def records_only(staged: Staged) -> list[MarketRecord]:
    """`finish` of a source whose staged markets are final already."""
    return staged.records


def describe_skips(reasons: Sequence[str], limit: int = 3) -> str:
    """A few skip reasons for a log line."""
    shown = "; ".join(reasons[:limit])
    more = f" (+{len(reasons) - limit} more)" if len(reasons) > limit else ""
    return shown + more
