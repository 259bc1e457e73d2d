"""The lookup API's reads: parameter checks, one indexed SQL query per answer, the cache.

Postgres builds each market's JSON itself (``record || {market, version, listed,
updated_ts_ns}``), so an answer is bytes from the database (or from Valkey) joined with
msgspec, never decoded and re-encoded per field. List filters become a WHERE clause with
only the conditions given (one prepared statement per combination, each planned for its
index: ``markets_venue_status``, ``markets_venue_series``, the primary key, the ``search``
GIN index); pages are keyset pages on ``market_id`` with an opaque cursor that is bound to
the filters it was made with.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final, get_args

import msgspec

from ssmd.contracts.reference import RefStatus
from ssmd.contracts.symbols import MARKET_ID_SEPARATOR
from ssmd.db import Pool, translate_errors
from ssmd.secmaster.cache import (
    TOKEN_VENUE,
    Cached,
    LookupCache,
    links_key,
    list_digest,
    market_key,
)
from ssmd.secmaster.symbology import LinkView, read_links

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
MAX_TEXT_CHARS: Final = 200
STATUSES: Final[tuple[str, ...]] = get_args(RefStatus)
_CURSOR_VERSION: Final = 1

_BODY: Final = (
    "(m.record || jsonb_build_object('market', m.market_id, 'version', m.version,"
    " 'listed', m.listed, 'updated_ts_ns',"
    " (extract(epoch FROM m.updated_at) * 1000000000)::bigint))::text"
)
_MARKET_BY_ID: Final = f"SELECT {_BODY} FROM markets m WHERE m.market_id = $1"  # noqa: S608 - constant SQL
_MARKET_BY_ID_OR_TOKEN: Final = (
    f"SELECT body FROM (SELECT 0 AS rank, {_BODY} AS body FROM markets m"  # noqa: S608 - constant SQL
    " WHERE m.market_id = $1"
    f" UNION ALL SELECT 1, {_BODY} FROM tokens t JOIN markets m USING (market_id)"
    " WHERE t.token_id = $2) found ORDER BY rank LIMIT 1"
)


class ParameterError(ValueError):
    """A request parameter is not acceptable; answered 400 naming it."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


class _Cursor(msgspec.Struct, array_like=True, frozen=True):
    version: int
    after: str
    filters: str


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A checked ``GET /v1/markets`` query."""

    venue: str | None
    series: str | None
    status: str | None
    q: str | None
    limit: int
    after: str | None

    @property
    def filters_digest(self) -> str:
        return list_digest(
            [("venue", self.venue), ("series", self.series), ("status", self.status), ("q", self.q)]
        )

    @property
    def digest(self) -> str:
        """Digest of the whole query (filters, limit, position): its cache key."""
        return list_digest(
            [("f", self.filters_digest), ("limit", self.limit), ("after", self.after)]
        )

    def cursor_after(self, market_id: str) -> str:
        raw = msgspec.json.encode(_Cursor(_CURSOR_VERSION, market_id, self.filters_digest))
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def parse(
        cls,
        *,
        venue: str | None,
        series: str | None,
        status: str | None,
        q: str | None,
        limit: str | None,
        cursor: str | None,
        venues: frozenset[str],
    ) -> ListQuery:
        """Check every parameter; `ParameterError` names the first one at fault."""
        if venue is not None and venue not in venues:
            raise ParameterError("venue", f"unknown venue {venue!r}; one of {sorted(venues)}")
        if status is not None and status not in STATUSES:
            raise ParameterError("status", f"must be one of {list(STATUSES)}, not {status!r}")
        series = _text("series", series)
        q = _text("q", q)
        query = cls(venue, series, status, q, _limit(limit), None)
        if cursor is None:
            return query
        return cls(venue, series, status, q, query.limit, _cursor_after(cursor, query))


def _text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise ParameterError(name, "must not be empty (leave it out to match any)")
    if len(value) > MAX_TEXT_CHARS:
        raise ParameterError(name, f"at most {MAX_TEXT_CHARS} characters")
    return value


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isascii() or not value.isdigit():
        raise ParameterError("limit", f"must be an integer from 1 to {MAX_LIMIT}, not {value!r}")
    limit = int(value)
    if not 1 <= limit <= MAX_LIMIT:
        raise ParameterError("limit", f"must be from 1 to {MAX_LIMIT}, not {limit}")
    return limit


def _cursor_after(cursor: str, query: ListQuery) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = msgspec.json.decode(raw, type=_Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise ParameterError("cursor", "not a cursor this API returned") from exc
    if decoded.version != _CURSOR_VERSION:
        raise ParameterError("cursor", "a cursor of another API version")
    if decoded.filters != query.filters_digest:
        raise ParameterError("cursor", "made for other venue/series/status/q filters")
    return decoded.after


def list_sql(query: ListQuery) -> tuple[str, list[object]]:
    """The page query: the given filters only, keyset on ``market_id``, limit + 1 rows."""
    conditions: list[str] = []
    args: list[object] = []

    def where(condition: str, value: object) -> None:
        args.append(value)
        conditions.append(condition.format(f"${len(args)}"))

    if query.venue is not None:
        where("m.venue = {}", query.venue)
    if query.status is not None:
        where("m.status = {}", query.status)
    if query.series is not None:
        where("m.series = {}", query.series)
    if query.q is not None:
        where("m.search @@ plainto_tsquery('simple', {})", query.q)
    if query.after is not None:
        where("m.market_id > {}", query.after)
    args.append(query.limit + 1)
    clause = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    # Conditions are constants of this function; every value is a parameter.
    sql = f"SELECT m.market_id, {_BODY} FROM markets m {clause}"  # noqa: S608
    sql += f"ORDER BY m.market_id LIMIT ${len(args)}"
    return sql, args


class Lookups:
    """Answers of the read endpoints, as JSON bytes: the cache first, then Postgres."""

    def __init__(self, pool: Pool, cache: LookupCache, venues: frozenset[str]) -> None:
        self._pool = pool
        self._cache = cache
        self.venues = venues

    async def market(self, ref: str) -> bytes | None:
        """``GET /v1/markets/{ref}``: a market by id, or by a Polymarket token id."""
        key = market_key(ref)
        cached = await self._cache.read(key)
        if cached.value is not None:
            return cached.value
        venue, sep, symbol = ref.partition(MARKET_ID_SEPARATOR)
        with translate_errors("reading a market"):
            if sep and venue != TOKEN_VENUE:
                body = await self._pool.fetchval(_MARKET_BY_ID, ref)
            else:  # a Polymarket market or token id, or a bare token id
                body = await self._pool.fetchval(_MARKET_BY_ID_OR_TOKEN, ref, symbol or ref)
        if body is None:
            return None
        answer = str(body).encode()
        await self._cache.fill(key, cached, answer)
        return answer

    async def markets(self, query: ListQuery) -> bytes:
        """``GET /v1/markets``: one page ``{"markets", "count", "next_cursor"}``."""
        digest = query.digest
        cached = await self._cache.read_list(digest)
        if cached.value is not None:
            return cached.value
        sql, args = list_sql(query)
        with translate_errors("listing markets"):
            rows = await self._pool.fetch(sql, *args)
        page = rows[: query.limit]
        more = len(rows) > query.limit
        answer = _encode(
            _Page(
                markets=[msgspec.Raw(row[1].encode()) for row in page],
                count=len(page),
                next_cursor=query.cursor_after(page[-1][0]) if more else None,
            )
        )
        await self._cache.fill_list(digest, cached, answer)
        return answer

    async def links(self, market: str, *, history: bool) -> bytes | None:
        """``GET /v1/markets/{id}/links``: current links (with `history`, every version)."""
        key = links_key(market)
        cached = _NOT_CACHED if history else await self._cache.read(key)
        if cached.value is not None:
            return cached.value
        async with self._pool.acquire() as conn:
            links = await read_links(conn, market, history=history)
        if links is None:
            return None
        answer = _encode(_Links(market=market, links=links))
        if not history:
            await self._cache.fill(key, cached, answer)
        return answer


_NOT_CACHED: Final = Cached(None, None)


class _Page(msgspec.Struct, frozen=True):
    markets: list[msgspec.Raw]
    count: int
    next_cursor: str | None


class _Links(msgspec.Struct, frozen=True):
    market: str
    links: list[LinkView]


_encode = msgspec.json.Encoder().encode
