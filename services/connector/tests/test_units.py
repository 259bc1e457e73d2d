"""Unit tests: sharding, sequence tracking, the pipeline's call paths, settings, the stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.bus import DLQ_REASON, DLQ_SUBJECT
from ssmd.connector.adapters import adapter_for
from ssmd.connector.adapters.kraken_futures.provider import shard_markets
from ssmd.connector.adapters.kraken_futures.schemas import SubscribedMsg, UnsubscribedMsg
from ssmd.connector.books import BookKeeper
from ssmd.connector.metrics import ConnectorStats
from ssmd.connector.pipeline import FramePipeline
from ssmd.connector.publishing import MarketDataSink, encode_with_msg_id, one_line
from ssmd.connector.sequence import DeltaVerdict, GapInfo, SeqTracker
from ssmd.connector.settings import ConnectorSettings
from ssmd.connector.sharding import owned_markets, split_markets
from ssmd.contracts.events import (
    BookDelta,
    Gap,
    LevelChange,
    Quote,
    Trade,
    decode_event,
    encode_event,
    event_msg_id,
)
from ssmd.contracts.shard import shard_of
from ssmd.contracts.symbols import market_id
from ssmd.core.clock import SimulatedClock
from ssmd.core.errors import ConfigError, PermanentError

pytestmark = pytest.mark.unit

VENUE = "kraken_futures"


def _kraken_id(symbol: str) -> str:
    return market_id(VENUE, symbol)


# -- sharding -------------------------------------------------------------------------------


@given(
    symbols=st.lists(st.text(min_size=1, max_size=12), max_size=60, unique=True),
    shards=st.integers(min_value=1, max_value=17),
)
def test_shards_partition_the_markets(symbols: list[str], shards: int) -> None:
    parts = split_markets(symbols, shards, market_id_of=_kraken_id)
    assert len(parts) == shards
    assert sorted(s for part in parts for s in part) == sorted(symbols)  # each exactly once
    for shard, part in enumerate(parts):
        assert owned_markets(symbols, shards, shard, market_id_of=_kraken_id) == part
        assert all(shard_of(_kraken_id(s), shards) == shard for s in part)


def test_kraken_shards_are_case_insensitive_and_cover_every_product() -> None:
    symbols = ["pi_xbtusd", "PI_XBTUSD", "PF_ETHUSD", "fi_xbtusd_210924", "PF_SOLUSD", "PF_A.B"]
    shards = 3
    served = [shard_markets(symbols, shards, k) for k in range(shards)]
    flat = [symbol for part in served for symbol in part]
    assert sorted(flat) == sorted({s.upper() for s in symbols})
    assert len(flat) == len(set(flat))


def test_owned_markets_rejects_a_shard_out_of_range() -> None:
    with pytest.raises(ValueError, match="range"):
        owned_markets(["A"], 2, 2, market_id_of=_kraken_id)


# -- sequence tracking ----------------------------------------------------------------------


def test_seq_tracker_finds_a_gap_and_waits_for_the_next_snapshot() -> None:
    tracker = SeqTracker()
    assert tracker.on_delta("m", 5) == (DeltaVerdict.UNSYNCED, None)
    tracker.on_snapshot("m", 10)
    assert tracker.on_delta("m", 11) == (DeltaVerdict.IN_ORDER, None)
    assert tracker.on_delta("m", 11) == (DeltaVerdict.STALE, None)
    assert tracker.on_delta("m", 9) == (DeltaVerdict.STALE, None)
    assert tracker.on_delta("m", 14) == (DeltaVerdict.GAP, GapInfo(12, 14))
    assert not tracker.is_synced("m")
    assert tracker.on_delta("m", 15) == (DeltaVerdict.UNSYNCED, None)  # one gap, not two
    tracker.on_snapshot("m", 20)
    assert tracker.on_delta("m", 21) == (DeltaVerdict.IN_ORDER, None)
    assert tracker.last_seq("m") == 21


def test_seq_tracker_keeps_markets_apart_and_resets() -> None:
    tracker = SeqTracker()
    tracker.on_snapshot("a", 1)
    tracker.on_snapshot("b", 100)
    assert tracker.on_delta("a", 2)[0] is DeltaVerdict.IN_ORDER
    assert tracker.on_delta("b", 101)[0] is DeltaVerdict.IN_ORDER
    tracker.reset()
    assert tracker.on_delta("a", 3)[0] is DeltaVerdict.UNSYNCED


# -- the pipeline's call paths, with a recording publisher ----------------------------------


class RecordingPublisher:
    """Keeps what the pipeline publishes (this is the Publisher interface, not NATS)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, str, dict[str, str]]] = []

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.sent.append((subject, payload, msg_id, dict(headers or {})))


class Harness:
    def __init__(
        self, *, publish_raw: bool = True, publisher: RecordingPublisher | None = None
    ) -> None:
        self.publisher = publisher or RecordingPublisher()
        self.stats = ConnectorStats()
        self.books = BookKeeper()
        self.adapter = adapter_for(VENUE)
        self.stream = self.adapter.new_stream(["PF_XBTUSD"], ["book", "trade"])
        self.requests: list[bytes] = []
        self.pipeline = FramePipeline(
            venue=VENUE,
            parser=self.adapter.new_parser(),
            sink=MarketDataSink(self.publisher, env="test", venue=VENUE, shard=0, shards=1),
            books=self.books,
            stats=self.stats,
            clock=SimulatedClock(1_700_000_000_000_000_000),
            markets=["kraken_futures:PF_XBTUSD", "kraken_futures:PF_ETHUSD"],
            publish_raw=publish_raw,
        )

    async def begin(self, *, continuation: bool = False) -> None:
        async def send(request: bytes) -> None:
            self.requests.append(request)

        await self.pipeline.begin_session(self.stream, send, continuation=continuation)

    async def feed(self, *frames: dict[str, Any] | bytes) -> None:
        for frame in frames:
            data = frame if isinstance(frame, bytes) else msgspec.json.encode(frame)
            await self.pipeline.handle(data, 1_700_000_000_000_000_000)

    def subjects(self) -> list[str]:
        return [subject for subject, *_ in self.publisher.sent]

    def gaps(self) -> list[Gap]:
        out = []
        for subject, payload, _, _ in self.publisher.sent:
            if subject.startswith("md.") and ".gap." in subject:
                event = decode_event(payload)
                assert isinstance(event, Gap)
                out.append(event)
        return out


def _snapshot(seq: int) -> dict[str, Any]:
    return {
        "feed": "book_snapshot",
        "product_id": "PF_XBTUSD",
        "timestamp": 1,
        "seq": seq,
        "bids": [{"price": 100.5, "qty": 2}],
        "asks": [{"price": 101, "qty": 3}],
    }


def _delta(seq: int, price: float = 100.0, qty: float = 1.0, side: str = "buy") -> dict[str, Any]:
    return {
        "feed": "book",
        "product_id": "PF_XBTUSD",
        "side": side,
        "seq": seq,
        "price": price,
        "qty": qty,
        "timestamp": 2,
    }


async def test_malformed_frame_is_dead_lettered_with_its_reason_and_the_session_goes_on() -> None:
    harness = Harness()
    await harness.begin()
    bad = b'{"feed":"book","product_id":"PF_XBTUSD","side":"buy","seq":"x"}'
    await harness.feed(bad, _snapshot(1))
    dlq = [entry for entry in harness.publisher.sent if entry[0].startswith("dlq.")]
    assert len(dlq) == 1
    subject, payload, msg_id, headers = dlq[0]
    assert subject == "dlq.test.connector.kraken_futures"
    assert payload == bad  # unchanged, so it can be replayed
    assert headers[DLQ_SUBJECT] == "raw.test.kraken_futures.0"
    assert "book" in headers[DLQ_REASON]
    assert "\n" not in headers[DLQ_REASON]
    assert msg_id
    assert harness.stats.malformed_frames == 1
    assert harness.stats.dead_letters == 1
    # The malformed frame is on the raw record too, and the next frame was handled.
    assert harness.subjects().count("raw.test.kraken_futures.0") == 2
    assert "md.test.kraken_futures.book.0.PF_XBTUSD" in harness.subjects()
    assert harness.books.is_synced("kraken_futures:PF_XBTUSD")


async def test_not_json_is_dead_lettered_too() -> None:
    harness = Harness(publish_raw=False)
    await harness.begin()
    await harness.feed(b"{not json")
    assert [entry[0] for entry in harness.publisher.sent] == ["dlq.test.connector.kraken_futures"]


async def test_the_same_bad_frame_received_twice_is_two_dead_letters() -> None:
    # A dead letter is a receipt, not venue data: a content-hash id would let JetStream's
    # duplicate window keep only the first of two identical bad frames.
    harness = Harness(publish_raw=False)
    await harness.begin()
    await harness.feed(b"{not json", b"{not json")
    ids = [entry[2] for entry in harness.publisher.sent if entry[0].startswith("dlq.")]
    assert len(ids) == 2
    assert len(set(ids)) == 2


async def test_sequence_jump_publishes_one_gap_and_asks_for_a_new_snapshot() -> None:
    harness = Harness(publish_raw=False)
    await harness.begin()
    await harness.feed(_snapshot(10), _delta(11), _delta(13), _delta(14))
    (gap,) = harness.gaps()
    assert (gap.expected_seq, gap.received_seq, gap.channel, gap.reason) == (12, 13, "book", "seq")
    assert harness.requests == [
        b'{"event":"unsubscribe","feed":"book","product_ids":["PF_XBTUSD"]}',
        b'{"event":"subscribe","feed":"book","product_ids":["PF_XBTUSD"]}',
    ]
    assert not harness.books.is_synced("kraken_futures:PF_XBTUSD")
    # Deltas after the gap are still published (they are venue data), not applied.
    assert harness.subjects().count("md.test.kraken_futures.book.0.PF_XBTUSD") == 4
    await harness.feed(_snapshot(20), _delta(21, price=99.0, qty=5.0))
    state = harness.books.get("kraken_futures:PF_XBTUSD")
    assert state is not None
    assert state.synced
    assert state.seq == 21
    assert [(level.price, level.size) for level in state.book.bids()] == [
        ("100.5", "2"),
        ("99", "5"),
    ]
    assert harness.stats.gaps == {"seq": 1}
    assert harness.stats.resnapshots == 1


async def test_reconnect_publishes_a_gap_per_market_and_resets_books() -> None:
    harness = Harness(publish_raw=False)
    await harness.begin()
    await harness.feed(_snapshot(1))
    await harness.begin(continuation=True)
    gaps = harness.gaps()
    assert sorted(g.market for g in gaps) == [
        "kraken_futures:PF_ETHUSD",
        "kraken_futures:PF_XBTUSD",
    ]
    assert {(g.channel, g.reason) for g in gaps} == {("all", "reconnect")}
    assert not harness.books.is_synced("kraken_futures:PF_XBTUSD")
    assert harness.stats.gaps == {"reconnect": 2}


async def test_events_carry_their_contract_msg_id_and_raw_frames_a_content_hash() -> None:
    harness = Harness()
    await harness.begin()
    frame = msgspec.json.encode(_snapshot(1))
    await harness.feed(frame, frame)
    raw = [e for e in harness.publisher.sent if e[0].startswith("raw.")]
    md = [e for e in harness.publisher.sent if e[0].startswith("md.")]
    assert raw[0][1] == frame
    assert raw[0][2] == raw[1][2]  # the same bytes again: the same id (JetStream dedups)
    for _, payload, msg_id, _ in md:
        assert msg_id == event_msg_id(decode_event(payload))
    assert md[0][2] == md[1][2]


class RefusingPublisher(RecordingPublisher):
    """Refuses (as NATS does an oversized message) everything on subjects with `word`."""

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word = word

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if self.word in subject:
            raise PermanentError(f"refused {subject}")
        await super().publish(subject, payload, msg_id=msg_id, headers=headers)


async def test_a_refused_message_leaves_a_gap_and_the_pipeline_goes_on() -> None:
    harness = Harness(publisher=RefusingPublisher(".book."))
    await harness.begin()
    await harness.feed(_snapshot(1), _delta(2))
    (gap, again) = harness.gaps()
    assert (gap.channel, gap.reason) == ("book", "publish_rejected")
    assert again.reason == "publish_rejected"
    assert harness.stats.publish_rejected == 2
    assert harness.books.get("kraken_futures:PF_XBTUSD") is not None  # the book went on
    raw_refused = Harness(publisher=RefusingPublisher("raw."))
    await raw_refused.begin()
    await raw_refused.feed(_snapshot(1))  # the raw copy is refused; the event still goes out
    assert raw_refused.subjects() == ["md.test.kraken_futures.book.0.PF_XBTUSD"]
    assert raw_refused.stats.publish_rejected == 1


def test_header_values_never_carry_line_breaks() -> None:
    assert one_line("a\r\nb\n c") == "a b c"
    assert len(one_line("x" * 2000)) == 500


# -- settings ---------------------------------------------------------------------------------


def test_settings_reject_a_shard_outside_the_shard_count() -> None:
    with pytest.raises(ConfigError, match="shard"):
        ConnectorSettings.load(shards=2, shard=2)


def test_settings_document_every_field() -> None:
    for env_name, _, description in ConnectorSettings.describe():
        assert env_name.startswith("SSMD_CONNECTOR_")
        assert len(description) > 30, env_name


def test_unknown_venue_and_feed_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no connector adapter"):
        adapter_for("nowhere")
    with pytest.raises(ConfigError, match="no feed"):
        adapter_for(VENUE).check_channels(["book", "orders"])


# -- the Kraken Futures stream hook -----------------------------------------------------------


def test_kraken_stream_is_subscribed_once_every_product_is_acknowledged() -> None:
    stream = adapter_for(VENUE).new_stream(["pf_xbtusd", "PF_ETHUSD"], ["book", "trade"])
    requests = stream.subscribe_requests()
    assert requests[0] == b'{"event":"subscribe","feed":"heartbeat"}'
    assert b'"product_ids":["PF_XBTUSD","PF_ETHUSD"]' in requests[1]
    assert len(requests) == 3
    for feed in ("book", "trade"):
        for product in ("PF_XBTUSD", "PF_ETHUSD"):
            assert not stream.subscribed
            stream.on_control(SubscribedMsg(feed=feed, product_ids=[product]))
    assert stream.subscribed
    stream.on_control(UnsubscribedMsg(feed="book", product_ids=["PF_XBTUSD"]))
    assert "book:PF_XBTUSD" in stream.subscription_state()


# -- dedup ids --------------------------------------------------------------------------------

_symbols = st.text(max_size=30) | st.sampled_from(
    ['"ts_recv_ns":5,', 'a\\"ts_recv_ns":0,', "PF_XBTUSD"]
)
_decimals = st.from_regex(r"-?[0-9]{1,6}(\.[0-9]{1,4})?", fullmatch=True)
_sizes = st.from_regex(r"[0-9]{1,6}(\.[0-9]{1,4})?", fullmatch=True)
_ts = st.integers(min_value=0, max_value=2**63 - 1)


@st.composite
def _events(draw: st.DrawFn) -> Any:
    common = {
        "venue": VENUE,
        "market": market_id(VENUE, draw(_symbols)),
        "ts_event_ns": draw(_ts),
        "ts_recv_ns": draw(_ts),
        "seq": draw(st.none() | st.integers(min_value=0, max_value=2**40)),
    }
    kind = draw(st.sampled_from(["trade", "quote", "delta", "gap"]))
    if kind == "trade":
        return Trade(**common, price=draw(_decimals), size=draw(_sizes), trade_id=draw(_symbols))
    if kind == "quote":
        return Quote(**common, bid_price=draw(st.none() | _decimals))
    if kind == "delta":
        change = LevelChange(side="bid", price=draw(_decimals), size=draw(_sizes))
        return BookDelta(**common, changes=[change])
    return Gap(**common, channel="all", reason=draw(_symbols))


@given(event=_events())
def test_single_encoding_gives_the_contract_msg_id(event: Any) -> None:
    payload, msg_id = encode_with_msg_id(event)
    assert payload == encode_event(event)
    assert msg_id == event_msg_id(event)
