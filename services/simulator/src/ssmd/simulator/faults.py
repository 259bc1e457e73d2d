"""Fault injection requests (``POST /control/faults``) and the malformed frames we send.

Actions:

* ``drop_connections``: every client connection is dropped, by TCP abort (``mode: abort``,
  the default: what a network failure looks like) or with a close frame (``mode: close``).
* ``skip_seq``: the next ``count`` (default 1) ``book`` sequence numbers of ``product`` are
  never sent, so clients see ``seq`` jump (a gap).
* ``malformed``: send one malformed frame to every connection now, or, with ``rate``
  (0..1), follow each data frame by a malformed one with that probability from now on
  (``rate: 0`` turns it off).
* ``stall``: send no data, ticker or heartbeat for ``seconds`` while keeping connections
  open (a silent feed); generation resumes at the current time, without a backlog.

Every fault is written in the ledger (kind ``fault``) so a test knows exactly what was sent.
"""

from __future__ import annotations

import random
from typing import Final, Literal

import msgspec

Action = Literal["drop_connections", "skip_seq", "malformed", "stall"]
MAX_STALL_S: Final = 3600.0
MAX_SKIP: Final = 1_000_000


class FaultRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /control/faults``."""

    action: Action
    product: str | None = None
    count: int = 1
    rate: float | None = None
    seconds: float | None = None
    mode: Literal["abort", "close"] = "abort"

    def check(self) -> str | None:
        """Why the request cannot be carried out, or None."""
        if self.action == "skip_seq":
            if not self.product:
                return "skip_seq needs 'product'"
            if not 1 <= self.count <= MAX_SKIP:
                return f"count must be 1..{MAX_SKIP}"
        if self.action == "malformed" and self.rate is not None and not 0 <= self.rate <= 1:
            return "rate must be within 0..1"
        if self.action == "stall" and (self.seconds is None or not 0 < self.seconds <= MAX_STALL_S):
            return f"stall needs 'seconds' within (0, {MAX_STALL_S}]"
        return None


def malformed_frame(rng: random.Random, product: str) -> bytes:
    """One frame a parser must reject: cut JSON, a wrong type, a missing field, not JSON.

    Always valid UTF-8, so it travels as a WebSocket text frame like real data.
    """
    pid = product.encode()
    variants = (
        b'{"feed":"book","product_id":"' + pid + b'","side":"buy","seq":',
        b'{"feed":"book","product_id":"' + pid + b'","side":"buy","seq":"x","price":1,'
        b'"qty":1,"timestamp":1}',
        b'{"feed":"trade","product_id":"' + pid + b'"}',
        b"{not json",
    )
    return variants[rng.randrange(len(variants))]
