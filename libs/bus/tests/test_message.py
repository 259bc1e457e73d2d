"""Reading a JetStream delivery's metadata from its ack subject (both subject formats)."""

from __future__ import annotations

import pytest

from ssmd.bus.message import parse_ack_subject
from ssmd.core.errors import BadInputError

pytestmark = pytest.mark.unit


def test_ack_subject_without_domain_gives_stream_consumer_and_counters() -> None:
    reply = "$JS.ACK.MD_PROD_KALSHI.archiver.2.1041.1037.1732170000123456789.12"
    assert parse_ack_subject(reply) == (
        "MD_PROD_KALSHI",
        "archiver",
        2,
        1041,
        1037,
        1732170000123456789,
        12,
    )


def test_ack_subject_with_domain_and_account_hash_is_read_past_them() -> None:
    reply = "$JS.ACK.hub.ACCHASH.ORDERS.oms.1.7.7.1732170000000000000.0.AbCd"
    assert parse_ack_subject(reply) == ("ORDERS", "oms", 1, 7, 7, 1732170000000000000, 0)


@pytest.mark.parametrize(
    "reply",
    ["", "_INBOX.abc", "$JS.ACK.S.c.x.1.1.1.1", "$JS.ACK.S.c.1.1.1"],
)
def test_anything_else_is_bad_input(reply: str) -> None:
    with pytest.raises(BadInputError):
        parse_ack_subject(reply)
