"""Subject, filter, stream, consumer and KV names: their shapes and their validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.contracts.events import MD_CHANNELS
from ssmd.contracts.subjects import (
    SECMASTER_STREAM,
    MdSubject,
    StreamName,
    allocations_bucket,
    archive_subject,
    dead_letter_stream,
    dead_letter_subject,
    dq_subject,
    durable_name,
    intent_subject,
    md_filter,
    md_stream,
    md_subject,
    oms_filter,
    oms_stream,
    oms_subject,
    order_event_subject,
    orders_stream,
    parse_md_subject,
    raw_filter,
    raw_stream,
    raw_subject,
    ref_filter,
    ref_subject,
    risk_bucket,
    signal_filter,
    signal_subject,
    tournament_subject,
)

pytestmark = pytest.mark.unit

envs = st.from_regex(r"[a-z0-9]+", fullmatch=True)
venues = st.from_regex(r"[a-z0-9_]+", fullmatch=True)
symbols = st.text(st.sampled_from(".*>~: -_aZ09") | st.characters(exclude_categories=["Cs"]))


def assert_concrete_subject(subject: str, tokens: int) -> None:
    """A publishable subject: the expected token count, none empty, no wildcard, no space."""
    parts = subject.split(".")
    assert len(parts) == tokens
    assert all(parts)
    assert not any(part in {"*", ">"} for part in parts)
    assert not any(char.isspace() for char in subject)
    assert subject.isascii()


def test_md_subject_encodes_the_symbol_into_one_token() -> None:
    subject = md_subject("prod", "kalshi", "trade", 3, "kalshi:KXHIGHNY-25NOV21-B57.5")
    assert subject == "md.prod.kalshi.trade.3.KXHIGHNY-25NOV21-B57~2E5"
    assert parse_md_subject(subject) == MdSubject(
        env="prod",
        venue="kalshi",
        channel="trade",
        shard=3,
        market_id="kalshi:KXHIGHNY-25NOV21-B57.5",
    )


@given(
    env=envs,
    venue=venues,
    channel=st.sampled_from(MD_CHANNELS),
    shard=st.integers(min_value=0, max_value=10_000),
    symbol=symbols,
)
def test_md_subject_is_always_six_safe_tokens_and_parses_back(
    env: str, venue: str, channel: str, shard: int, symbol: str
) -> None:
    market = f"{venue}:{symbol}"
    subject = md_subject(env, venue, channel, shard, market)
    assert_concrete_subject(subject, 6)
    assert parse_md_subject(subject) == MdSubject(env, venue, channel, shard, market)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Prod", "kalshi", "trade", 0, "kalshi:X"), "env"),
        (("pro_d", "kalshi", "trade", 0, "kalshi:X"), "env"),
        (("", "kalshi", "trade", 0, "kalshi:X"), "env"),
        (("prod.x", "kalshi", "trade", 0, "kalshi:X"), "env"),
        (("*", "kalshi", "trade", 0, "kalshi:X"), "env"),
        (("prod", "Kalshi", "trade", 0, "Kalshi:X"), "venue"),
        (("prod", "kal.shi", "trade", 0, "kal.shi:X"), "venue"),
        (("prod", "*", "trade", 0, "kalshi:X"), "venue"),
        (("prod", "kalshi", "trades", 0, "kalshi:X"), "channel"),
        (("prod", "kalshi", "*", 0, "kalshi:X"), "channel"),
        (("prod", "kalshi", "trade", -1, "kalshi:X"), "shard"),
        (("prod", "kalshi", "trade", True, "kalshi:X"), "shard"),
        (("prod", "kalshi", "trade", "3", "kalshi:X"), "shard"),
        (("prod", "kalshi", "trade", 0, "polymarket:X"), "does not belong"),
        (("prod", "kalshi", "trade", 0, "X"), "market id"),
    ],
)
def test_md_subject_rejects_invalid_parts(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        md_subject(*args)


@pytest.mark.parametrize(
    "subject",
    [
        "md.prod.kalshi.trade.3",
        "md.prod.kalshi.trade.3.X.Y",
        "raw.prod.kalshi.trade.3.X",
        "md.prod.kalshi.trade.03.X",
        "md.prod.kalshi.trade.-1.X",
        "md.prod.kalshi.trade.3.~41",
        "md.prod.kalshi.trade.*.X",
        "md.prod.kalshi.trades.3.X",
    ],
)
def test_parse_md_subject_rejects_non_canonical_subjects(subject: str) -> None:
    with pytest.raises(ValueError, match=r"subject|shard|token|channel"):
        parse_md_subject(subject)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "md.prod.>"),
        ({"venue": "kalshi"}, "md.prod.kalshi.>"),
        ({"channel": "trade"}, "md.prod.*.trade.>"),
        ({"venue": "kalshi", "channel": "book", "shard": 2}, "md.prod.kalshi.book.2.>"),
        ({"shard": 0}, "md.prod.*.*.0.>"),
        ({"market_id": "kalshi:A.B"}, "md.prod.kalshi.*.*.A~2EB"),
        (
            {"venue": "kalshi", "channel": "quote", "shard": 1, "market_id": "kalshi:A"},
            "md.prod.kalshi.quote.1.A",
        ),
    ],
)
def test_md_filter_collapses_trailing_wildcards(kwargs: dict[str, Any], expected: str) -> None:
    assert md_filter("prod", **kwargs) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"venue": "Kalshi"},
        {"channel": "trades"},
        {"shard": -1},
        {"shard": "1"},
        {"venue": "polymarket", "market_id": "kalshi:A"},
        {"venue": ">"},
    ],
)
def test_md_filter_validates_non_wildcard_parts(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"venue|channel|shard|belong"):
        md_filter("prod", **kwargs)


def test_widest_filter_of_a_venue_is_its_stream_pattern() -> None:
    assert md_stream("prod", "kraken_futures") == StreamName(
        "MD_PROD_KRAKEN_FUTURES", ("md.prod.kraken_futures.>",)
    )
    assert md_filter("prod", "kraken_futures") == md_stream("prod", "kraken_futures").subjects[0]
    assert raw_stream("prod", "kalshi") == StreamName("RAW_PROD_KALSHI", ("raw.prod.kalshi.>",))
    assert raw_filter("prod", "kalshi") == raw_stream("prod", "kalshi").subjects[0]


@given(st.tuples(envs, venues), st.tuples(envs, venues))
def test_stream_names_are_distinct_for_distinct_env_and_venue(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    if first != second:
        assert md_stream(*first).name != md_stream(*second).name
        assert raw_stream(*first).name != raw_stream(*second).name


def test_raw_subjects() -> None:
    assert raw_subject("dev", "polymarket", 0) == "raw.dev.polymarket.0"
    assert raw_filter("dev") == "raw.dev.>"
    assert raw_filter("dev", shard=4) == "raw.dev.*.4"
    with pytest.raises(ValueError, match="shard"):
        raw_subject("dev", "polymarket", -2)


def test_reference_subjects_and_stream() -> None:
    assert ref_subject("kalshi", "added", "kalshi:A B") == "ref.kalshi.added.A~20B"
    assert ref_filter() == "ref.>"
    assert ref_filter("kalshi") == "ref.kalshi.>"
    assert ref_filter(event="removed") == "ref.*.removed"
    assert StreamName("SECMASTER", ("ref.>",)) == SECMASTER_STREAM
    with pytest.raises(ValueError, match="reference event"):
        ref_subject("kalshi", "add.ed", "kalshi:A")


def test_dead_letter_subjects_and_stream() -> None:
    assert dead_letter_subject("prod", "connector.kraken_futures") == (
        "dlq.prod.connector.kraken_futures"
    )
    assert dead_letter_subject("prod", "archiver") == "dlq.prod.archiver"
    assert dead_letter_stream("prod") == StreamName("DLQ_PROD", ("dlq.prod.>",))


@pytest.mark.parametrize(
    "origin", ["", "connector..kalshi", "connector.*", "a.>", "Archiver", "a b"]
)
def test_dead_letter_subject_rejects_bad_origins(origin: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        dead_letter_subject("prod", origin)


def test_signal_and_order_flow_subjects() -> None:
    assert signal_subject("vwap_1m", "kalshi", "kalshi:A.B") == "signal.vwap_1m.kalshi.A~2EB"
    assert signal_filter("vwap_1m") == "signal.vwap_1m.>"
    assert intent_subject("paper", "acct_1") == "oms.paper.acct_1.intent"
    assert oms_subject("paper", "acct_1", "approved") == "oms.paper.acct_1.approved"
    assert oms_filter("paper", kind="rejected") == "oms.paper.*.rejected"
    assert oms_filter("paper") == "oms.paper.>"
    assert oms_stream("paper") == StreamName("OMS_PAPER", ("oms.paper.>",))
    assert order_event_subject("paper", "acct_1") == "orders.paper.acct_1"
    assert orders_stream("paper") == StreamName("ORDERS_PAPER", ("orders.paper.>",))
    with pytest.raises(ValueError, match="kind"):
        oms_subject("paper", "acct_1", "filled")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="account"):
        intent_subject("paper", "acct.1")


def test_report_subjects() -> None:
    assert dq_subject("prod", "kalshi", "match_rate") == "dq.prod.kalshi.match_rate"
    assert archive_subject("prod", "manifest") == "archive.prod.manifest"
    assert tournament_subject("prod", "result") == "tournament.prod.result"


def test_durable_names_are_valid_consumer_names() -> None:
    assert durable_name("archiver", "md") == "archiver-md"
    assert durable_name("archiver", "md", "kraken_futures") == "archiver-md-kraken_futures"
    for bad in (("arch-iver", "md"), ("archiver", "m.d"), ("archiver", "md", "*"), ("A", "b")):
        with pytest.raises(ValueError, match=r"service|purpose|qualifier"):
            durable_name(*bad)


def test_kv_bucket_names() -> None:
    assert risk_bucket("prod") == "RISK_PROD"
    assert allocations_bucket("prod") == "ALLOCATIONS_PROD"
    with pytest.raises(ValueError, match="env"):
        risk_bucket("prod_eu")


BUILDERS_TAKING_ENV: list[Callable[[str], object]] = [
    lambda env: md_subject(env, "kalshi", "trade", 0, "kalshi:X"),
    md_filter,
    lambda env: md_stream(env, "kalshi"),
    lambda env: raw_subject(env, "kalshi", 0),
    raw_filter,
    lambda env: raw_stream(env, "kalshi"),
    lambda env: dead_letter_subject(env, "archiver"),
    dead_letter_stream,
    lambda env: oms_subject(env, "a", "intent"),
    oms_filter,
    oms_stream,
    lambda env: order_event_subject(env, "a"),
    orders_stream,
    lambda env: dq_subject(env, "kalshi", "gaps"),
    lambda env: archive_subject(env, "manifest"),
    lambda env: tournament_subject(env, "result"),
    risk_bucket,
    allocations_bucket,
]


@pytest.mark.parametrize("builder", BUILDERS_TAKING_ENV)
@pytest.mark.parametrize("env", ["", "Prod", "prod_eu", "pr.od", "*", ">", "prod ", "é"])
def test_every_builder_validates_env(builder: Callable[[str], object], env: str) -> None:
    with pytest.raises(ValueError, match="env"):
        builder(env)
