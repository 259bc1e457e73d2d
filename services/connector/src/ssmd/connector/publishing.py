"""Where the connector's messages go, and under which dedup ids.

* Canonical events: ``md.<env>.<venue>.<channel>.<shard>.<token>`` (built by
  `ssmd.contracts.subjects.md_subject`, the shard token by the contract's ``shard_of``),
  payload `encode_event`, ``Nats-Msg-Id`` `event_msg_id`: the same venue message seen again
  after a reconnect or a restart is stored once.
* Raw frames: ``raw.<env>.<venue>.<shard>``, the bytes exactly as received, msg id = a
  content hash of the frame (SHA-256, 128 bits, salted with the raw subject so shards never
  collide). A frame carries its feed, product and venue sequence or time, so a repeat after
  a reconnect is recognised; byte-identical frames within the duplicate window are stored
  once (only a timeless feed such as Kraken's ``ticker_lite`` can repeat, and its repeat
  says nothing new).
* Dead letters: ``dlq.<env>.connector.<venue>``, the frame unchanged as payload, the
  reason and the raw subject in the ``Ssmd-Dlq-*`` headers of `ssmd.bus`. A dead letter
  records one *receipt* of a bad frame, so its msg id is this sink's id and a receipt
  number (kept by the publisher's retries), not a content hash: a venue can send the
  same bad bytes (``{not json``) many times, and the duplicate window would keep one.

Subjects are computed once per (event type, market) and cached (bounded). An event is
encoded once: `encode_with_msg_id` derives the contract's id from the published bytes
(see there), instead of encoding a zeroed copy as `event_msg_id` does.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from typing import Final, Protocol

from ssmd.bus import DLQ_REASON, DLQ_SUBJECT
from ssmd.contracts.events import (
    CHANNEL_OF,
    MarketEvent,
    encode_event,
    event_msg_id,
)
from ssmd.contracts.shard import shard_of
from ssmd.contracts.subjects import dead_letter_subject, md_subject, raw_subject
from ssmd.core.ids import new_id

_SUBJECT_CACHE_MAX: Final = 1 << 16
_REASON_MAX_CHARS: Final = 500
_ID_HEX_CHARS: Final = 32
_encode: Final = encode_event


class MessagePublisher(Protocol):
    """What the connector publishes through (`ssmd.bus.Publisher` is one)."""

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None: ...


_TS_RECV_KEY: Final = b'"ts_recv_ns":'


def encode_with_msg_id(event: MarketEvent) -> tuple[bytes, str]:
    """``(encode_event(event), event_msg_id(event))``, with one encoding instead of two.

    `event_msg_id` hashes the event's JSON with ``ts_recv_ns`` zeroed. In the encoded event
    the text ``"ts_recv_ns":`` occurs exactly once, as the top-level key (inside JSON
    strings every quote is escaped, and no nested struct has such a field), followed by
    the value's digits and the comma before ``seq``; replacing that value with ``0`` gives
    exactly the bytes of the zeroed copy. If the text is not found (a future change of
    the encoding), the contract's own function answers. A property test holds the two
    equal.
    """
    payload = _encode(event)
    ts = event.ts_recv_ns
    if not ts:
        return payload, _hash_id(payload)
    canonical = payload.replace(b'"ts_recv_ns":%d,' % ts, b'"ts_recv_ns":0,', 1)
    if len(canonical) == len(payload):
        return payload, event_msg_id(event)
    return payload, _hash_id(canonical)


def _hash_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:_ID_HEX_CHARS]


def one_line(text: str, max_chars: int = _REASON_MAX_CHARS) -> str:
    """`text` fit for a NATS header value: no CR/LF (they end a header), bounded length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= max_chars else flat[: max_chars - 3] + "..."


def dead_letter_origin(venue: str) -> str:
    """The dead-letter origin of a venue's connector, ``connector.<venue>``."""
    return f"connector.{venue}"


class MarketDataSink:
    """Publishes events, raw frames and dead letters of one connector shard."""

    def __init__(
        self,
        publisher: MessagePublisher,
        *,
        env: str,
        venue: str,
        shard: int,
        shards: int,
    ) -> None:
        self._publish = publisher.publish
        self._env = env
        self._venue = venue
        self._shards = shards
        self.raw_subject = raw_subject(env, venue, shard)
        self.dead_letter_subject = dead_letter_subject(env, dead_letter_origin(venue))
        self._raw_salt = self.raw_subject.encode() + b"\n"
        self._dlq_id_prefix = f"dlq-{new_id()}-"  # this sink; receipts are numbered
        self._dlq_receipts = itertools.count(1)
        # event type -> market -> subject; one dict lookup per level, no key tuple.
        self._subjects: dict[type, dict[str, str]] = {cls: {} for cls in CHANNEL_OF}
        self._cached = 0

    def subject_of(self, event: MarketEvent) -> str:
        """The md subject of `event` (cached per event type and market)."""
        by_market = self._subjects[type(event)]
        subject = by_market.get(event.market)
        if subject is None:
            if self._cached >= _SUBJECT_CACHE_MAX:
                for cached in self._subjects.values():
                    cached.clear()
                self._cached = 0
            subject = md_subject(
                self._env,
                self._venue,
                CHANNEL_OF[type(event)],
                shard_of(event.market, self._shards),
                event.market,
            )
            by_market[event.market] = subject
            self._cached += 1
        return subject

    async def event(self, event: MarketEvent) -> None:
        """Publish one canonical event (returns once it is in flight)."""
        subject = self._subjects[type(event)].get(event.market) or self.subject_of(event)
        payload, msg_id = encode_with_msg_id(event)
        await self._publish(subject, payload, msg_id=msg_id)

    async def raw(self, frame: bytes) -> None:
        """Publish one frame exactly as received."""
        msg_id = _hash_id(self._raw_salt + frame)
        await self._publish(self.raw_subject, frame, msg_id=msg_id)

    async def dead_letter(self, frame: bytes, reason: str) -> None:
        """Publish a frame that could not be processed, with why, to the DLQ."""
        msg_id = f"{self._dlq_id_prefix}{next(self._dlq_receipts)}"
        headers = {DLQ_REASON: one_line(reason), DLQ_SUBJECT: self.raw_subject}
        await self._publish(self.dead_letter_subject, frame, msg_id=msg_id, headers=headers)
