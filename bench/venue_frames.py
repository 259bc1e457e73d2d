"""Synthetic venue frames for the connector benchmarks, one generator per venue.

Each returns ``(symbols, frames)``: a book snapshot per market first, then book updates and
trades (`TRADE_SHARE`) in the venue's own wire format, sized like the venue's frames.
Deterministic for a seed. Used by ``bench_connector.py``; the frames are built here, not by
the simulators, so the benchmark measures only the connector.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

import msgspec

from ssmd.venues.polymarket.tokens import MarketTokens

LEVELS_PER_SIDE = 50
TRADE_SHARE = 0.1
MARKETS = 10
TS_MS = 1_700_000_000_000

Frames = tuple[list[str], list[bytes]]


def kraken_futures(n: int, seed: int) -> Frames:
    """Kraken Futures: book_snapshot, then ``book`` (absolute qty) and ``trade`` frames."""
    rng = random.Random(seed)
    encode = msgspec.json.encode
    products = [f"PF_B{i}USD" for i in range(MARKETS)]
    frames: list[bytes] = []
    seqs = dict.fromkeys(products, 1000)
    trade_seqs = dict.fromkeys(products, 1)
    mids = {p: 1000.0 + 100 * i for i, p in enumerate(products)}
    ts_ms = TS_MS
    for product in products:
        mid = mids[product]
        bids = [{"price": mid - 0.5 * (k + 1), "qty": 1.0 + k} for k in range(LEVELS_PER_SIDE)]
        asks = [{"price": mid + 0.5 * (k + 1), "qty": 1.0 + k} for k in range(LEVELS_PER_SIDE)]
        frames.append(
            encode(
                {
                    "feed": "book_snapshot",
                    "product_id": product,
                    "timestamp": ts_ms,
                    "seq": seqs[product],
                    "tickSize": None,
                    "bids": bids,
                    "asks": asks,
                }
            )
        )
    while len(frames) < n:
        product = rng.choice(products)
        ts_ms += 1
        if rng.random() < TRADE_SHARE:
            trade_seqs[product] += 1
            frames.append(
                b'{"feed":"trade","product_id":"%s","uid":"%08x-bench","side":"%s",'
                b'"type":"fill","seq":%d,"time":%d,"qty":%s,"price":%s}'
                % (
                    product.encode(),
                    rng.getrandbits(32),
                    rng.choice((b"buy", b"sell")),
                    trade_seqs[product],
                    ts_ms,
                    f"{rng.randint(1, 500) / 100:g}".encode(),
                    f"{mids[product] + rng.randint(-4, 4) * 0.5:.1f}".encode(),
                )
            )
            continue
        seqs[product] += 1
        buy = rng.random() < 0.5
        offset = 0.5 * rng.randint(1, LEVELS_PER_SIDE)
        price = mids[product] - offset if buy else mids[product] + offset
        qty = 0 if rng.random() < 0.2 else rng.randint(1, 5000) / 100
        frames.append(
            b'{"feed":"book","product_id":"%s","side":"%s","seq":%d,"price":%s,"qty":%s,'
            b'"timestamp":%d}'
            % (
                product.encode(),
                b"buy" if buy else b"sell",
                seqs[product],
                f"{price:.1f}".encode(),
                f"{qty:g}".encode(),
                ts_ms,
            )
        )
    return products, frames


def kalshi(n: int, seed: int) -> Frames:
    """Kalshi: ``orderbook_snapshot`` per market (sid 1), then ``orderbook_delta``
    increments (sid 1) and ``trade`` frames (sid 2), each sid numbered 1, 2, 3..."""
    rng = random.Random(seed)
    tickers = [f"KXBENCH-26NOV21-T{i}" for i in range(MARKETS)]
    frames: list[bytes] = []
    seq = {1: 0, 2: 0}
    sizes: dict[tuple[str, str, int], int] = {}
    ts_ms = TS_MS

    def next_seq(sid: int) -> int:
        seq[sid] += 1
        return seq[sid]

    for ticker in tickers:
        yes = [[f"0.{c:02d}00", "150.00"] for c in range(1, 45)]
        no = [[f"0.{c:02d}00", "120.00"] for c in range(1, 45)]
        for c in range(1, 45):
            sizes[(ticker, "yes", c)] = 15_000
            sizes[(ticker, "no", c)] = 12_000
        body = {"market_ticker": ticker, "market_id": f"id-{ticker}"}
        frames.append(
            msgspec.json.encode(
                {
                    "type": "orderbook_snapshot",
                    "sid": 1,
                    "seq": next_seq(1),
                    "msg": {**body, "yes_dollars_fp": yes, "no_dollars_fp": no},
                }
            )
        )
    while len(frames) < n:
        ticker = rng.choice(tickers)
        ts_ms += 1
        if rng.random() < TRADE_SHARE:
            cents = rng.randint(45, 55)
            frames.append(
                b'{"type":"trade","sid":2,"seq":%d,"msg":{"trade_id":"%032x",'
                b'"market_ticker":"%s","yes_price_dollars":"0.%02d00","no_price_dollars":'
                b'"0.%02d00","count_fp":"%d.00","taker_side":"yes","taker_outcome_side":"yes",'
                b'"taker_book_side":"bid","ts":%d,"ts_ms":%d}}'
                % (
                    next_seq(2),
                    rng.getrandbits(128),
                    ticker.encode(),
                    cents,
                    100 - cents,
                    rng.randint(1, 50),
                    ts_ms // 1000,
                    ts_ms,
                )
            )
            continue
        side = rng.choice(("yes", "no"))
        cents = rng.randint(1, 44)
        key = (ticker, side, cents)
        delta = rng.randint(-sizes[key], 5000) if sizes[key] else rng.randint(1, 5000)
        sizes[key] += delta
        frames.append(
            b'{"type":"orderbook_delta","sid":1,"seq":%d,"msg":{"market_ticker":"%s",'
            b'"market_id":"id-%s","price_dollars":"0.%02d00","delta_fp":"%.2f","side":"%s",'
            b'"ts_ms":%d}}'
            % (
                next_seq(1),
                ticker.encode(),
                ticker.encode(),
                cents,
                delta / 100,
                side.encode(),
                ts_ms,
            )
        )
    return tickers, frames


def polymarket_tokens(i: int) -> MarketTokens:
    def digest(text: str) -> bytes:
        return hashlib.sha256(f"bench:{text}:{i}".encode()).digest()

    return MarketTokens(
        "0x" + digest("condition").hex(),
        "0x" + digest("question").hex(),
        str(int.from_bytes(digest("yes"))),
        str(int.from_bytes(digest("no"))),
    )


def polymarket(n: int, seed: int) -> Frames:
    """Polymarket: a ``book`` per YES token, then ``price_change`` frames (the YES change
    and its NO mirror, with best bid/ask) and ``last_trade_price`` frames."""
    rng = random.Random(seed)
    markets = [polymarket_tokens(i) for i in range(MARKETS)]
    frames: list[bytes] = []
    books: dict[str, dict[str, dict[int, int]]] = {}
    ts_ms = TS_MS
    for tokens in markets:
        bids = dict.fromkeys(range(1, 50), 100)
        asks = dict.fromkeys(range(51, 100), 100)
        books[tokens.condition_id] = {"BUY": bids, "SELL": asks}
        frames.append(
            msgspec.json.encode(
                {
                    "event_type": "book",
                    "market": tokens.condition_id,
                    "asset_id": tokens.yes_token_id,
                    "timestamp": str(ts_ms),
                    "hash": "0x" + "0" * 40,
                    "bids": [{"price": f"0.{c:02d}", "size": "100"} for c in sorted(bids)],
                    "asks": [
                        {"price": f"0.{c:02d}", "size": "100"} for c in sorted(asks, reverse=True)
                    ],
                }
            )
        )
    while len(frames) < n:
        tokens = rng.choice(markets)
        ts_ms += 1
        book = books[tokens.condition_id]
        if rng.random() < TRADE_SHARE:
            frames.append(
                b'{"event_type":"last_trade_price","market":"%s","asset_id":"%s","price":"0.%02d",'
                b'"side":"BUY","size":"%d","fee_rate_bps":"0","timestamp":"%d",'
                b'"transaction_hash":"0x%064x"}'
                % (
                    tokens.condition_id.encode(),
                    tokens.yes_token_id.encode(),
                    rng.randint(45, 55),
                    rng.randint(1, 500),
                    ts_ms,
                    rng.getrandbits(256),
                )
            )
            continue
        side = rng.choice(("BUY", "SELL"))
        cents = rng.randint(1, 49) if side == "BUY" else rng.randint(51, 99)
        size = 0 if rng.random() < 0.2 else rng.randint(1, 500)
        levels = book[side]
        if size:
            levels[cents] = size
        else:
            levels.pop(cents, None)
        best_bid = max(book["BUY"], default=0)
        best_ask = min(book["SELL"], default=100)
        mirror = "SELL" if side == "BUY" else "BUY"
        frames.append(
            b'{"event_type":"price_change","market":"%s","timestamp":"%d","price_changes":['
            b'{"asset_id":"%s","price":"0.%02d","size":"%d","side":"%s","hash":"0x%040x",'
            b'"best_bid":"0.%02d","best_ask":"0.%02d"},'
            b'{"asset_id":"%s","price":"0.%02d","size":"%d","side":"%s","hash":"0x%040x",'
            b'"best_bid":"0.%02d","best_ask":"0.%02d"}]}'
            % (
                tokens.condition_id.encode(),
                ts_ms,
                tokens.yes_token_id.encode(),
                cents,
                size,
                side.encode(),
                rng.getrandbits(160),
                best_bid,
                best_ask,
                tokens.no_token_id.encode(),
                100 - cents,
                size,
                mirror.encode(),
                rng.getrandbits(160),
                100 - best_ask,
                100 - best_bid,
            )
        )
    return [tokens.condition_id for tokens in markets], frames


GENERATORS: dict[str, Callable[[int, int], Frames]] = {
    "kraken_futures": kraken_futures,
    "kalshi": kalshi,
    "polymarket": polymarket,
}
