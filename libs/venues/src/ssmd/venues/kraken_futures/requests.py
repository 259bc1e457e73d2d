"""The client's side of a Kraken Futures WebSocket session: request frames.

Connectors (and tests) build every request here, so the shape is written once. Product ids
are sent upper case; the venue accepts either case and answers upper case.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

from ssmd.venues.kraken_futures.config import HEARTBEAT
from ssmd.venues.kraken_futures.wire import ChallengeMsg, SubscribeRequest, UnsubscribeRequest

_ENCODER: Final = msgspec.json.Encoder()


def subscribe(feed: str, product_ids: Iterable[str] = ()) -> bytes:
    """``{"event":"subscribe","feed":...,"product_ids":[...]}`` (no ids for heartbeat)."""
    ids = [product_id.upper() for product_id in product_ids]
    request = SubscribeRequest(feed=feed, product_ids=None if feed == HEARTBEAT else ids)
    return _ENCODER.encode(request)


def unsubscribe(feed: str, product_ids: Iterable[str] = ()) -> bytes:
    """``{"event":"unsubscribe","feed":...,"product_ids":[...]}``."""
    ids = [product_id.upper() for product_id in product_ids]
    request = UnsubscribeRequest(feed=feed, product_ids=None if feed == HEARTBEAT else ids)
    return _ENCODER.encode(request)


def challenge(api_key: str) -> bytes:
    """``{"event":"challenge","api_key":...}``, the first step of private subscriptions."""
    return _ENCODER.encode(ChallengeMsg(api_key=api_key))
