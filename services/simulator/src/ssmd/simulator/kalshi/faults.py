"""Faults on the simulated Kalshi (``POST /control/faults``; `ssmd.simulator.faults`).

* ``drop_connections``: every connection aborted (TCP) or closed with a close frame.
* ``skip_seq`` ``product``: every sid whose ``orderbook_delta`` subscription covers the
  market skips its next ``count`` ``seq`` numbers (the next frame's number jumps; no
  message is lost). Recorded per connection with the numbers skipped.
* ``malformed``: a malformed frame to every connection now, or a rate of malformed frames
  following data frames (`ssmd.simulator.kalshi.frames.malformed`).
* ``stall``: no data, ticker or ping for ``seconds``; generation resumes without backlog.

Every fault is written in the ledger (kind ``fault``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aiohttp import WSCloseCode

from ssmd.simulator.faults import FaultRequest
from ssmd.simulator.kalshi import frames
from ssmd.simulator.ledger import Record
from ssmd.venues.kalshi.config import ORDERBOOK

if TYPE_CHECKING:
    from ssmd.simulator.kalshi.exchange import KalshiExchange

_NS_PER_S: Final = 1_000_000_000


async def apply_fault(exchange: KalshiExchange, request: FaultRequest) -> dict[str, object]:
    """Carry out `request` on `exchange`; what was done (ValueError if it cannot be)."""
    problem = request.check()
    if problem:
        raise ValueError(problem)
    now_ns = exchange.clock.now_ns()
    if request.action == "skip_seq":
        result = _skip_seq(exchange, (request.product or "").upper(), request.count, now_ns)
    elif request.action == "drop_connections":
        result = await _drop(exchange, request, now_ns)
    elif request.action == "malformed":
        result = _malformed(exchange, request.rate, now_ns)
    else:
        assert request.seconds is not None
        exchange.stalled_until_ns = now_ns + round(request.seconds * _NS_PER_S)
        exchange.ledger.record(now_ns, None, Record("fault", "stall", detail=f"{request.seconds}s"))
        result = {"stalled_until_ns": exchange.stalled_until_ns}
    exchange.metrics.faults.labels(action=request.action).inc()
    return result


async def _drop(exchange: KalshiExchange, request: FaultRequest, now_ns: int) -> dict[str, object]:
    dropped = []
    for session in exchange.sessions:
        conn = session.conn
        exchange.ledger.record(
            now_ns, conn.id, Record("fault", request.action, detail=request.mode)
        )
        dropped.append(conn.id)
        if request.mode == "abort":
            conn.abort()
        else:
            await conn.close(WSCloseCode.GOING_AWAY, b"dropped by fault injection")
    return {"dropped": dropped}


def _skip_seq(exchange: KalshiExchange, product: str, count: int, now_ns: int) -> dict[str, object]:
    if product not in exchange.markets:
        raise ValueError(f"no market {product!r}")
    skipped: list[dict[str, object]] = []
    for session in exchange.sessions:
        for sub in session.subs.values():
            if sub.channel != ORDERBOOK or not sub.covers(product):
                continue
            first = sub.seq + sub.skip + 1
            sub.skip += count
            last = first + count - 1
            record = Record(
                "fault", "skip_seq", product, first, detail=f"sid {sub.sid}: {first}..{last}"
            )
            exchange.ledger.record(now_ns, session.conn.id, record)
            skipped.append(
                {"connection": session.conn.id, "sid": sub.sid, "skipped": [first, last]}
            )
    return {"product": product, "skipped": skipped}


def _malformed(exchange: KalshiExchange, rate: float | None, now_ns: int) -> dict[str, object]:
    if rate is not None:
        exchange.flow.malformed_rate = rate
        exchange.ledger.record(now_ns, None, Record("fault", "malformed_rate", detail=str(rate)))
        return {"malformed_rate": rate}
    sent: dict[str, str] = {}
    fallback = min(exchange.product_ids, default="KXNONE-00JAN01-T0")
    for session in exchange.sessions:
        sub = next(iter(session.subs.values()), None)
        ticker = next(iter(sub.markets or ()), fallback) if sub is not None else fallback
        sid, seq = (sub.sid, sub.seq + 1) if sub is not None else (0, 0)
        frame = frames.malformed(exchange.fault_rng, ticker, sid, seq)
        text = frame.decode()
        exchange.send(session, [(frame, Record("fault", "malformed", ticker, detail=text))])
        sent[str(session.conn.id)] = text
    return {"frames": sent, "connections": [int(c) for c in sent]}
