"""Fan-out: a market event's body, built once, spliced into each subscriber's envelope.

Each subscriber gets its own ``sid`` and ``seq`` (so its own frame bytes and its own ledger
`Record`); frames are collected in each session's ``batch`` and the exchange queues every
batch once per step. The ``seq`` advances only on sequenced messages (everything but
``ticker``). With a malformed-frame rate, a data frame is followed by a malformed one (the
``seq`` it carries is the next valid frame's, so only a parser that rejects it is affected).
"""

from __future__ import annotations

import random

from ssmd.simulator.kalshi import frames
from ssmd.simulator.kalshi.markets import ORDERBOOK_DELTA, TRADE, MarketEvent
from ssmd.simulator.kalshi.subscriptions import Subscription
from ssmd.simulator.ledger import Record


def deliver_market(
    ticker: str,
    events: list[MarketEvent],
    book_subs: list[Subscription],
    trade_subs: list[Subscription],
) -> None:
    """Deliver one market step's events (deltas and trades, in order); frames batched."""
    book = [(s, s.envelope.sequenced(ORDERBOOK_DELTA), s.session.batch.append) for s in book_subs]
    trade = [(s, s.envelope.sequenced(TRADE), s.session.batch.append) for s in trade_subs]
    for msg_type, body, uid, price, qty, detail in events:
        for sub, template, append in book if msg_type == ORDERBOOK_DELTA else trade:
            seq = sub.seq = sub.seq + 1 + sub.skip
            sub.skip = 0
            append(
                (
                    template % (seq, body),
                    Record("data", msg_type, ticker, seq, uid, price, qty, detail),
                )
            )


def deliver_sequenced(subs: list[Subscription], ticker: str, event: MarketEvent) -> None:
    """One sequenced event (snapshot, lifecycle) to each of `subs`."""
    msg_type, body, uid, price, qty, detail = event
    for sub in subs:
        seq = sub.next_seq()
        sub.session.batch.append(
            (
                sub.envelope.sequenced(msg_type) % (seq, body),
                Record("data", msg_type, ticker, seq, uid, price, qty, detail),
            )
        )


def deliver_ticker(subs: list[Subscription], ticker: str, body: bytes, price: str) -> None:
    """A ``ticker`` message (no ``seq``) to each of `subs`."""
    record = Record("data", "ticker", ticker, price=price)
    for sub in subs:
        sub.session.batch.append((sub.envelope.unsequenced("ticker") % body, record))


def mix_malformed(subs: list[Subscription], ticker: str, rng: random.Random, rate: float) -> int:
    """After each frame just delivered to `subs`, maybe a malformed one; return how many.

    Called right after a delivery, so each subscriber's batch ends with that frame.
    """
    injected = 0
    for sub in subs:
        if rng.random() < rate:
            frame = frames.malformed(rng, ticker, sub.sid, sub.seq + 1)
            record = Record("fault", "malformed", ticker, detail=frame.decode())
            sub.session.batch.append((frame, record))
            injected += 1
    return injected
