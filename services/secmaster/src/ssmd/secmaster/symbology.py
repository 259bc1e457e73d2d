"""Symbology: canonical ids, venue symbols, and versioned cross-venue links.

A market's canonical id is ``<venue>:<venue symbol>`` (the venue's exact spelling,
`ssmd.contracts.symbols.market_id`); a Polymarket outcome token id also names its market
(``tokens`` table). A *link* says two markets of different venues are the same real-world
outcome (a Kalshi market and the Polymarket market on one question). Links are versioned:
a change supersedes the pair's current row (``superseded_at``) and inserts ``version + 1``
(under a per-pair advisory lock), so the whole history stays readable. Pairs are stored
ordered (``left_id < right_id``).

Links come from people (``POST /v1/links``, origin ``manual``) or from the rule-based
matcher (`ssmd.secmaster.matcher`, origin ``matcher``, state ``proposed``, with its score
and rule). The matcher never touches a pair that has a link of any other kind (a person's
decision, even ``rejected``). `Symbology` runs both against the pool and keeps the links
cache (``sm:links:<id>``) in step.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Final

import msgspec

from ssmd.core.errors import UnavailableError
from ssmd.db import Connection, Pool, Record, translate_errors
from ssmd.secmaster.cache import LookupCache
from ssmd.secmaster.matcher import MatchCandidate, Proposal, propose
from ssmd.secmaster.metrics import SecmasterMetrics

log = logging.getLogger(__name__)

LINK_STATES: Final = ("proposed", "accepted", "rejected")
MATCHER_ORIGIN: Final = "matcher"
MANUAL_ORIGIN: Final = "manual"
MAX_NOTE_CHARS: Final = 2000
_LOCK_NAMESPACE: Final = b"ssmd.secmaster.link:"


class UnknownMarketError(LookupError):
    """A link names a market the secmaster does not know (answered 404)."""

    def __init__(self, parameter: str, market: str) -> None:
        super().__init__(f"{parameter}: no market {market!r}")
        self.parameter = parameter
        self.market = market


class LinkRefusedError(ValueError):
    """A link request that cannot be a link (answered 400 naming the parameter)."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


class LinkView(msgspec.Struct, frozen=True, kw_only=True):
    """One version of a cross-venue link, as the API shows it."""

    link_id: int
    left: str
    right: str
    other: str | None = None
    state: str
    origin: str
    score: float | None
    rule: str | None
    note: str | None
    version: int
    current: bool
    created_ts_ns: int
    created_by: str

    @classmethod
    def of_row(cls, row: Record, market: str | None = None) -> LinkView:
        """From a row of `_LINK_COLUMNS`; `other` is the side that is not `market`."""
        left, right = str(row["left_id"]), str(row["right_id"])
        return cls(
            link_id=int(row["id"]),
            left=left,
            right=right,
            other=None if market is None else (right if left == market else left),
            state=row["state"],
            origin=row["origin"],
            score=row["score"],
            rule=row["rule"],
            note=row["note"],
            version=int(row["version"]),
            current=bool(row["current"]),
            created_ts_ns=int(row["created_ts_ns"]),
            created_by=row["created_by"],
        )


_LINK_COLUMNS: Final = (
    "id, left_id, right_id, state, origin, score, rule, note, version,"
    " (extract(epoch FROM created_at) * 1000000000)::bigint AS created_ts_ns, created_by,"
    " superseded_at IS NULL AS current"
)

_INSERT_LINK: Final = (
    "INSERT INTO links (left_id, right_id, state, origin, score, rule, note, version, created_by)"  # noqa: S608 - constant SQL
    f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_LINK_COLUMNS}"
)


async def read_links(conn: Connection, market: str, *, history: bool) -> list[LinkView] | None:
    """Links of `market` (current ones, or every version); None if the market is unknown."""
    current = "" if history else " AND superseded_at IS NULL"
    with translate_errors(f"reading links of {market}"):
        if not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM markets WHERE market_id = $1)", market
        ):
            return None
        rows = await conn.fetch(
            f"SELECT {_LINK_COLUMNS} FROM links WHERE (left_id = $1 OR right_id = $1){current}"  # noqa: S608 - constant SQL
            " ORDER BY left_id, right_id, version",
            market,
        )
    return [LinkView.of_row(row, market) for row in rows]


def _pair_lock_key(left: str, right: str) -> int:
    digest = hashlib.sha256(_LOCK_NAMESPACE + f"{left}\0{right}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def set_link(
    conn: Connection,
    left: str,
    right: str,
    *,
    state: str,
    origin: str = MANUAL_ORIGIN,
    note: str | None = None,
    score: float | None = None,
    rule: str | None = None,
    created_by: str,
) -> LinkView:
    """Supersede the pair's current link (if any) with a new version; run in a transaction.

    Raises `UnknownMarketError` or `LinkRefusedError` (same market, same venue, bad state).
    """
    if not conn.is_in_transaction():
        raise RuntimeError("set_link must run inside a transaction")
    if state not in LINK_STATES:
        raise LinkRefusedError("state", f"must be one of {list(LINK_STATES)}, not {state!r}")
    if left == right:
        raise LinkRefusedError("right", "a market cannot be linked to itself")
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise LinkRefusedError("note", f"at most {MAX_NOTE_CHARS} characters")
    with translate_errors(f"linking {left} and {right}"):
        rows = await conn.fetch(
            "SELECT market_id, venue FROM markets WHERE market_id = ANY($1::text[])", [left, right]
        )
        venues = {row["market_id"]: row["venue"] for row in rows}
        for parameter, market in (("left", left), ("right", right)):
            if market not in venues:
                raise UnknownMarketError(parameter, market)
        if venues[left] == venues[right]:
            raise LinkRefusedError(
                "right", f"both markets are on {venues[left]}; links join venues"
            )
        left, right = sorted((left, right))
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _pair_lock_key(left, right))
        version = await conn.fetchval(
            "SELECT coalesce(max(version), 0) + 1 FROM links WHERE left_id = $1 AND right_id = $2",
            left,
            right,
        )
        await conn.execute(
            "UPDATE links SET superseded_at = now()"
            " WHERE left_id = $1 AND right_id = $2 AND superseded_at IS NULL",
            left,
            right,
        )
        row = await conn.fetchrow(
            _INSERT_LINK,
            left,
            right,
            state,
            origin,
            score,
            rule,
            note,
            version,
            created_by,
        )
    assert row is not None
    return LinkView.of_row(row)


_CANDIDATES: Final = (
    "SELECT market_id, venue, title,"
    " (extract(epoch FROM close_ts) * 1000000000)::bigint AS close_ts_ns FROM markets"
    " WHERE venue = $1 AND kind = 'binary' AND listed AND title IS NOT NULL"
    " AND status IN ('unopened', 'open', 'paused', 'closed')"
)


async def load_candidates(conn: Connection, venue: str) -> list[MatchCandidate]:
    """The binary, listed, unresolved markets of `venue` that have a title."""
    with translate_errors(f"loading match candidates of {venue}"):
        rows = await conn.fetch(_CANDIDATES, venue)
    return [
        MatchCandidate(row["market_id"], row["venue"], row["title"], row["close_ts_ns"])
        for row in rows
    ]


async def save_proposals(
    conn: Connection, proposals: Iterable[Proposal], *, created_by: str
) -> list[LinkView]:
    """Store proposals as ``proposed`` matcher links; pairs with another link stay as they are.

    A pair whose current link is an earlier matcher proposal gets a new version only if its
    score moved. Run in a transaction.
    """
    saved: list[LinkView] = []
    for proposal in proposals:
        with translate_errors("reading a current link"):
            current = await conn.fetchrow(
                "SELECT origin, state, score FROM links"
                " WHERE left_id = $1 AND right_id = $2 AND superseded_at IS NULL",
                proposal.left,
                proposal.right,
            )
        if current is not None and (
            current["origin"] != MATCHER_ORIGIN
            or current["state"] != "proposed"
            or current["score"] == proposal.score
        ):
            continue
        saved.append(
            await set_link(
                conn,
                proposal.left,
                proposal.right,
                state="proposed",
                origin=MATCHER_ORIGIN,
                score=proposal.score,
                rule=proposal.rule,
                created_by=created_by,
            )
        )
    return saved


class MatchReport(msgspec.Struct, frozen=True, kw_only=True):
    """What one matcher run found (best first) and saved."""

    proposals: list[Proposal]
    count: int
    saved: int
    markets: dict[str, int]


class Symbology:
    """Link writes and matcher runs over the pool, with cache invalidation."""

    def __init__(
        self, pool: Pool, cache: LookupCache, metrics: SecmasterMetrics, *, min_score: float
    ) -> None:
        self._pool = pool
        self._cache = cache
        self._metrics = metrics
        self.min_score = min_score

    async def link(
        self, left: str, right: str, *, state: str, note: str | None, created_by: str
    ) -> LinkView:
        """A manual link decision: the pair's next version."""
        async with self._pool.acquire() as conn, conn.transaction():
            view = await set_link(conn, left, right, state=state, note=note, created_by=created_by)
        await self._invalidate((view.left, view.right))
        return view

    async def _invalidate(self, markets: Iterable[str]) -> None:
        """Drop cached links of `markets`; the write stands even if Valkey is away (the
        entries then live until their TTL), so a failure is logged, not raised."""
        try:
            await self._cache.invalidate(markets)
        except UnavailableError as exc:
            log.warning("links changed but the cache was not invalidated: %s", exc)

    async def prediction_venues(self) -> list[str]:
        with translate_errors("reading venues"):
            rows = await self._pool.fetch(
                "SELECT venue FROM venues WHERE asset_class = 'prediction' ORDER BY venue"
            )
        return [row["venue"] for row in rows]

    async def match(
        self,
        venues: Sequence[str] | None = None,
        *,
        min_score: float | None = None,
        limit: int = 1000,
        save: bool = True,
        created_by: str = "matcher",
    ) -> MatchReport:
        """Run the matcher over each pair of `venues` (default: every prediction venue)."""
        chosen = list(venues) if venues is not None else await self.prediction_venues()
        threshold = self.min_score if min_score is None else min_score
        async with self._pool.acquire() as conn:
            candidates = {venue: await load_candidates(conn, venue) for venue in chosen}
        found: list[Proposal] = []
        for a, b in combinations(chosen, 2):
            found += await asyncio.to_thread(
                propose, candidates[a], candidates[b], min_score=threshold
            )
        found.sort(key=lambda p: (-p.score, p.left, p.right))
        found = found[:limit]
        saved: list[LinkView] = []
        if save and found:
            async with self._pool.acquire() as conn, conn.transaction():
                saved = await save_proposals(conn, found, created_by=created_by)
            await self._invalidate({m for view in saved for m in (view.left, view.right)})
        self._metrics.matcher_proposals.inc(len(found))
        return MatchReport(
            proposals=found,
            count=len(found),
            saved=len(saved),
            markets={venue: len(markets) for venue, markets in candidates.items()},
        )
