"""Request parameters: ISO-8601 and Unix-ns times, market ids, and the errors they raise."""

from __future__ import annotations

import pytest

from ssmd.gateway.params import ParameterError, format_ns, parse_market, parse_time_ns

T0 = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", T0),
        ("2024-05-01T12:00:00", T0),  # no zone: UTC
        ("2024-05-01 12:00:00z", T0),
        ("2024-05-01T14:00:00+02:00", T0),
        ("2024-05-01T12:00Z", T0),
        ("2024-05-01", T0 - 12 * 3_600_000_000_000),
        ("2024-05-01T12:00:00.5Z", T0 + 500_000_000),
        ("2024-05-01T12:00:00.123456789Z", T0 + 123_456_789),
        (str(T0 + 7), T0 + 7),
    ],
)
def test_times_parse_to_unix_nanoseconds(text: str, expected: int) -> None:
    assert parse_time_ns(text, "start") == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1714564800", "looks like seconds"),
        ("yesterday", "neither ISO-8601"),
        ("2024-13-01T00:00:00Z", "not a valid time"),
        ("2024-05-01T12:00:00.1234567891Z", "neither ISO-8601"),
        ("", "is empty"),
        ("1969-12-31T23:59:59Z", "before 1970"),
        ("99999999999999999999", "out of range"),
    ],
)
def test_bad_times_name_the_parameter_and_say_why(text: str, reason: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_time_ns(text, "end")
    assert caught.value.parameter == "end"
    assert reason in caught.value.reason


def test_format_ns_writes_nine_fraction_digits_and_round_trips() -> None:
    assert format_ns(T0 + 123_456_789) == "2024-05-01T12:00:00.123456789Z"
    assert format_ns(T0) == "2024-05-01T12:00:00.000000000Z"
    for ns in (0, T0, T0 + 1, T0 + 999_999_999):
        assert parse_time_ns(format_ns(ns), "start") == ns


def test_market_ids_keep_the_venue_spelling() -> None:
    venues = ("kraken_futures", "kalshi")
    assert parse_market("kraken_futures:PF_XBTUSD", venues) == (
        "kraken_futures",
        "kraken_futures:PF_XBTUSD",
    )
    assert parse_market("kalshi:KXBTCD-25NOV21-T100000.5", venues)[1].endswith(".5")


@pytest.mark.parametrize(
    ("market", "reason"),
    [
        ("PF_XBTUSD", "not a canonical id"),
        ("binance:BTCUSDT", "unknown venue 'binance'"),
        ("kalshi:", "empty venue symbol"),
        ("Kalshi:X", "not a canonical id"),
    ],
)
def test_bad_market_ids_are_rejected_with_a_reason(market: str, reason: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_market(market, ("kraken_futures", "kalshi"))
    assert caught.value.parameter == "market"
    assert reason in caught.value.reason
