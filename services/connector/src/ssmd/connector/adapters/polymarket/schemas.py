"""Polymarket control entries this adapter reacts to: ``ssmd.venues.polymarket.parse``.

The venue library owns every wire struct (shared with the OMS adapter and the simulator);
its parser returns the control entries of a frame as one `ControlBatch`.
"""

from __future__ import annotations

from ssmd.venues.polymarket.parse import (
    BookMismatch,
    ControlBatch,
    NewMarket,
    Resolved,
    UnknownAsset,
)

__all__ = ["BookMismatch", "ControlBatch", "NewMarket", "Resolved", "UnknownAsset"]
