"""Kraken Futures wire schemas used by this adapter: ``ssmd.venues.kraken_futures.wire``.

The venue library owns every wire struct (shared with the OMS adapter and the simulator);
this module only names the control messages the stream hook reacts to.
"""

from __future__ import annotations

from ssmd.venues.kraken_futures.wire import (
    AlertMsg,
    ErrorMsg,
    HeartbeatMsg,
    InfoMsg,
    SubscribedFailedMsg,
    SubscribedMsg,
    UnsubscribedFailedMsg,
    UnsubscribedMsg,
)

__all__ = [
    "AlertMsg",
    "ErrorMsg",
    "HeartbeatMsg",
    "InfoMsg",
    "SubscribedFailedMsg",
    "SubscribedMsg",
    "UnsubscribedFailedMsg",
    "UnsubscribedMsg",
]
