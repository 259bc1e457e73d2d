"""The lookup cache in Valkey/Redis (keys ``sm:*``): read-through, invalidated by the
``SECMASTER`` change stream, never the source of truth.

Keys, all built here:

* ``sm:market:<id>``: the JSON answer of ``GET /v1/markets/<id>`` (``<id>`` as asked: a
  market id, or a Polymarket token id that resolves to its market);
* ``sm:links:<market id>``: the JSON answer of ``GET /v1/markets/<id>/links``;
* ``sm:list:<gen>:<digest>``: one page of ``GET /v1/markets`` (digest of its parameters);
* ``sm:gen``: a counter every invalidation increments.

Correctness against races: a reader reads ``sm:gen`` with its key (one round trip), and on a
miss stores what Postgres returned only if ``sm:gen`` has not moved since (a Lua script), so
a change committed while it read cannot be overwritten by its older answer. List pages carry
the generation in their key: a change makes every cached page unreachable at once (they
expire by TTL). Every entry has the TTL ``cache_ttl_s``.

`CacheInvalidator` consumes ``SECMASTER`` (durable ``secmaster-cache``, from new messages on
its first creation) a batch at a time: for each record it deletes the market's keys (and its
tokens' aliases) and bumps ``sm:gen``, in one transaction per batch; a Valkey failure naks
the batch, which comes back. The market comes from the subject, so even a record that does
not decode invalidates its market.

Valkey unreachable: lookups skip the cache for ``_COOLDOWN_S`` and read Postgres (counted
as ``error``); a lookup never fails because of the cache. The scripts use keys they build
themselves, so this is for a single Valkey node (or a cluster with one slot), as deployed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import valkey.asyncio as valkey
from valkey.exceptions import ValkeyError

from ssmd.bus import BatchConsumer, Bus, ConsumerSpec, Message, NotFoundError, Rejected
from ssmd.contracts.events import ContractError
from ssmd.contracts.reference import decode_reference
from ssmd.contracts.subjects import SECMASTER_STREAM, dead_letter_subject, durable_name
from ssmd.contracts.symbols import decode_token, market_id
from ssmd.core.cancel import raise_if_cancelling
from ssmd.core.errors import TemporaryError, UnavailableError
from ssmd.core.retry import Backoff
from ssmd.secmaster.metrics import SecmasterMetrics

log = logging.getLogger(__name__)

GEN_KEY: Final = "sm:gen"
TOKEN_VENUE: Final = "polymarket"  # noqa: S105 - a venue name, not a secret
"""The venue whose outcome token ids are accepted (and cached) in place of its market ids."""
_COOLDOWN_S: Final = 1.0
_TIMEOUT_S: Final = 0.5
_WAIT_FOR_STREAM: Final = Backoff(initial_s=0.5, max_s=10.0)

# KEYS[1] = sm:gen, KEYS[2] = the key; ARGV = generation read ('' = none), value, ttl ms.
_FILL_IF_UNCHANGED: Final = """
local gen = redis.call('GET', KEYS[1])
if (gen == false and ARGV[1] == '') or gen == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
# ARGV[1] = list digest: the generation and the page cached under it, in one round trip.
_READ_LIST: Final = """
local gen = redis.call('GET', KEYS[1]) or '0'
return {gen, redis.call('GET', 'sm:list:' .. gen .. ':' .. ARGV[1])}
"""


def market_key(market_or_alias: str) -> str:
    return f"sm:market:{market_or_alias}"


def links_key(market: str) -> str:
    return f"sm:links:{market}"


def list_key(generation: str, digest: str) -> str:
    return f"sm:list:{generation}:{digest}"


def list_digest(parameters: Iterable[tuple[str, str | int | None]]) -> str:
    """A short stable digest of a list query's parameters."""
    text = "&".join(f"{name}={'' if value is None else value}" for name, value in parameters)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Cached:
    """What a read found: the value (None on a miss) and the generation to fill under."""

    value: bytes | None
    generation: str | None


_MISS: Final = Cached(None, None)


class LookupCache:
    """Read-through cache over one Valkey; `None` url gives a cache that never hits."""

    def __init__(self, url: str | None, *, ttl_s: float, metrics: SecmasterMetrics) -> None:
        self._client: valkey.Valkey | None = (
            valkey.Valkey.from_url(
                url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S
            )
            if url
            else None
        )
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._metrics = metrics
        self._skip_until = 0.0
        self._fill_script = (
            self._client.register_script(_FILL_IF_UNCHANGED) if self._client else None
        )
        self._list_script = self._client.register_script(_READ_LIST) if self._client else None

    @property
    def enabled(self) -> bool:
        return self._client is not None

    async def ready(self) -> bool | str:
        """Readiness: Valkey answers PING (or no cache is configured)."""
        if self._client is None:
            return True
        try:
            await self._client.ping()
        except (ValkeyError, OSError) as exc:
            return f"cache unreachable: {exc}"
        return True

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    # -- reads -----------------------------------------------------------------------------
    async def read(self, key: str) -> Cached:
        """The cached value of `key` and the generation a fill must match."""
        if self._client is None or time.monotonic() < self._skip_until:
            return _MISS
        try:
            generation, value = await self._client.mget([GEN_KEY, key])
        except (ValkeyError, OSError) as exc:
            return self._failed(exc)
        return self._found(value, "" if generation is None else generation.decode())

    async def read_list(self, digest: str) -> Cached:
        """A cached list page (by the digest of its parameters) and its generation."""
        if self._list_script is None or time.monotonic() < self._skip_until:
            return _MISS
        try:
            generation, value = await self._list_script(keys=[GEN_KEY], args=[digest])
        except (ValkeyError, OSError) as exc:
            return self._failed(exc)
        return self._found(value, generation.decode())

    async def fill(self, key: str, cached: Cached, value: bytes) -> None:
        """Store `value` under `key` unless an invalidation ran since `cached` was read."""
        if self._fill_script is None or cached.generation is None:
            return
        try:
            stored = await self._fill_script(
                keys=[GEN_KEY, key], args=[cached.generation, value, self._ttl_ms]
            )
        except (ValkeyError, OSError) as exc:
            self._failed(exc)
            return
        if not stored:
            self._metrics.cache.labels("skipped").inc()

    async def fill_list(self, digest: str, cached: Cached, value: bytes) -> None:
        """Store a list page under its generation (an older one is unreachable anyway)."""
        if self._client is None or cached.generation is None:
            return
        try:
            await self._client.set(list_key(cached.generation, digest), value, px=self._ttl_ms)
        except (ValkeyError, OSError) as exc:
            self._failed(exc)

    def _found(self, value: bytes | None, generation: str) -> Cached:
        self._metrics.cache.labels("hit" if value is not None else "miss").inc()
        return Cached(value, generation)

    def _failed(self, exc: Exception) -> Cached:
        self._metrics.cache.labels("error").inc()
        if time.monotonic() >= self._skip_until:
            log.warning(
                "lookup cache unavailable, reading Postgres for %.1fs: %s", _COOLDOWN_S, exc
            )
        self._skip_until = time.monotonic() + _COOLDOWN_S
        return _MISS

    # -- invalidation ----------------------------------------------------------------------
    async def invalidate(self, markets: Iterable[str], aliases: Iterable[str] = ()) -> None:
        """Drop the keys of `markets` (and market-key `aliases`), bump the generation.

        Raises `UnavailableError` if Valkey did not take it (the caller retries).
        """
        if self._client is None:
            return
        keys: set[str] = set()
        for market in markets:
            keys.update((market_key(market), links_key(market)))
        keys.update(market_key(alias) for alias in aliases)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                if keys:
                    pipe.delete(*sorted(keys))
                pipe.incr(GEN_KEY)
                await pipe.execute()
        except (ValkeyError, OSError) as exc:
            raise UnavailableError(f"invalidating {len(keys)} cache keys: {exc}") from exc
        self._metrics.cache_invalidations.inc()


def market_of_subject(subject: str) -> str | None:
    """The market id of a ``ref.<venue>.<change>.<token>`` subject (None if not one)."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != "ref":
        return None
    try:
        return market_id(parts[1], decode_token(parts[3]))
    except ValueError:
        return None


def _aliases(market: str, message: Message) -> list[str]:
    """The other names of a Polymarket market the lookups cache it under: each token id,
    bare and as ``polymarket:<token id>``."""
    if not market.startswith(f"{TOKEN_VENUE}:"):
        return []
    try:
        record = decode_reference(message.data)
    except ContractError:
        return []
    names = [token.token_id for token in record.tokens]
    return names + [market_id(record.venue, name) for name in names]


class CacheInvalidator:
    """Consumes ``SECMASTER`` and invalidates the cache; see the module docstring."""

    def __init__(
        self, bus: Bus, cache: LookupCache, *, env: str, batch: int = 500, max_wait_s: float = 0.05
    ) -> None:
        self._cache = cache
        self._bus = bus
        spec = ConsumerSpec(
            stream=SECMASTER_STREAM.name,
            durable=durable_name("secmaster", "cache"),
            filter_subjects=SECMASTER_STREAM.subjects,
            deliver_policy="new",
            max_deliver=-1,  # a cache must not skip an invalidation
            max_ack_pending=4 * batch,
            description="secmaster: invalidates the lookup cache",
        )
        self.consumer = BatchConsumer(
            bus,
            spec,
            self._handle,
            dead_letter_subject=dead_letter_subject(env, "secmaster.cache"),
            max_batch=batch,
            max_wait_s=max_wait_s,
        )

    async def _handle(self, messages: Sequence[Message]) -> Sequence[Rejected]:
        markets: list[str] = []
        aliases: list[str] = []
        for message in messages:
            market = market_of_subject(message.subject)
            if market is None:
                log.warning("cache invalidator: not a reference subject: %s", message.subject)
                continue
            markets.append(market)
            aliases.extend(_aliases(market, message))
        await self._cache.invalidate(markets, aliases)
        return ()

    async def run(self) -> None:
        """Consume until cancelled; waits for the stream if it does not exist yet."""
        attempt = 0
        while True:
            try:
                await self.consumer.run()
            except (NotFoundError, TemporaryError) as exc:
                raise_if_cancelling()
                attempt += 1
                delay_s = _WAIT_FOR_STREAM.delay_s(attempt)
                log.warning("cache invalidator: %s; retrying in %.1fs", exc, delay_s)
                await asyncio.sleep(delay_s)
            else:
                return
