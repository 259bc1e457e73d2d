"""The client's side of a Polymarket market-channel session: the frames it sends.

Connectors (and tests) build every request here, so each shape is written once
(VENUES.md 3.2). The venue sends no acks: a subscription shows itself by the ``book``
messages that follow (with ``initial_dump``). Keep-alive is the bare text `PING` about every
10 s; the server answers ``PONG``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

from ssmd.venues.polymarket import config
from ssmd.venues.polymarket.wire import InitialSubscribe, SubscriptionUpdate

PING: Final = config.PING
"""The keep-alive text frame."""
_ENCODER: Final = msgspec.json.Encoder()


def initial_subscribe(
    asset_ids: Iterable[str], *, custom_feature_enabled: bool = True, initial_dump: bool = True
) -> bytes:
    """The first frame of a session: ``{"assets_ids":[...],"type":"market",...}``.

    `custom_feature_enabled` turns on ``best_bid_ask``, ``new_market`` and
    ``market_resolved``; `initial_dump` asks for a ``book`` per asset right away.
    """
    return _ENCODER.encode(
        InitialSubscribe(
            assets_ids=list(asset_ids),
            custom_feature_enabled=custom_feature_enabled,
            initial_dump=initial_dump,
        )
    )


def subscribe(asset_ids: Iterable[str], *, custom_feature_enabled: bool = True) -> bytes:
    """Add assets to a live session: ``{"assets_ids":[...],"operation":"subscribe",...}``."""
    return _ENCODER.encode(
        SubscriptionUpdate(
            assets_ids=list(asset_ids),
            operation="subscribe",
            custom_feature_enabled=custom_feature_enabled,
        )
    )


def unsubscribe(asset_ids: Iterable[str], *, custom_feature_enabled: bool = True) -> bytes:
    """Remove assets from a live session: ``{"assets_ids":[...],"operation":"unsubscribe",...}``."""
    return _ENCODER.encode(
        SubscriptionUpdate(
            assets_ids=list(asset_ids),
            operation="unsubscribe",
            custom_feature_enabled=custom_feature_enabled,
        )
    )
