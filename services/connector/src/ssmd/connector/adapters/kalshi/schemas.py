"""Kalshi control structs this adapter reacts to: ``ssmd.venues.kalshi.parse``.

The venue library owns every wire struct (shared with the OMS adapter and the simulator);
its parser turns each frame into canonical events plus one of these control structs.
"""

from __future__ import annotations

from ssmd.venues.kalshi.parse import DataMark, ErrorReply, Reply, UnknownMessage

__all__ = ["DataMark", "ErrorReply", "Reply", "UnknownMessage"]
