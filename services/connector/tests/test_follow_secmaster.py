"""A connector following the secmaster's change stream (records published here by hand)."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import pytest

from ssmd.bus import Publisher, StreamSpec, provision
from ssmd.connector.follow import MarketSelector
from ssmd.contracts.reference import (
    ReferenceRecord,
    RefStatus,
    encode_reference,
    reference_msg_id,
)
from ssmd.contracts.subjects import SECMASTER_STREAM, ref_subject

if TYPE_CHECKING:
    from conftest import Kit

pytestmark = pytest.mark.integration

VENUE = "kalshi"


def _record(
    ticker: str, outbox_id: int, *, version: int, status: RefStatus = "open", series: str = "KXA"
) -> ReferenceRecord:
    return ReferenceRecord(
        change="created" if version == 1 else "status",
        market=f"{VENUE}:{ticker}",
        venue=VENUE,
        symbol=ticker,
        kind="binary",
        status=status,
        series=series,
        version=version,
        outbox_id=outbox_id,
        ts_ns=time.time_ns(),
    )


@pytest.mark.unit
def test_the_selector_takes_status_then_series_categories_or_symbols() -> None:
    anything_open = MarketSelector(statuses=frozenset({"open"}))
    assert anything_open.wants(_record("KXA-1-A", 1, version=1))
    assert not anything_open.wants(_record("KXA-1-A", 2, version=2, status="closed"))
    one_series = MarketSelector(statuses=frozenset({"open"}), series=frozenset({"KXB"}))
    assert not one_series.wants(_record("KXA-1-A", 1, version=1))
    assert one_series.wants(_record("KXB-1-A", 1, version=1, series="KXB"))
    listed = MarketSelector(statuses=frozenset({"open"}), symbols=frozenset({"KXA-1-A"}))
    assert listed.wants(_record("KXA-1-A", 1, version=1))
    assert not listed.wants(_record("KXA-1-B", 1, version=1))


async def test_markets_follow_the_secmaster_records_of_their_series(kit: Kit) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    series = f"KXF{tag}"
    wanted = [f"{series}-26NOV21-T{i}" for i in range(3)]
    other = f"KXO{tag}-26NOV21-T1"
    simulator = await kit.simulator(venue=VENUE, markets=[*wanted, other], events_per_s=200)
    await provision(kit.bus, streams=[StreamSpec(SECMASTER_STREAM.name, SECMASTER_STREAM.subjects)])
    outbox = iter(range(int(time.time() * 1000), 10**15))

    async def publish(*records: ReferenceRecord) -> None:
        async with Publisher(kit.bus, name="test-secmaster") as publisher:
            for record in records:
                await publisher.publish(
                    ref_subject(VENUE, record.change, record.market),
                    encode_reference(record),
                    msg_id=reference_msg_id(record.outbox_id),
                )

    # Two markets exist before the connector starts: it picks them up from the stream.
    await publish(*(_record(t, next(outbox), version=1, series=series) for t in wanted[:2]))
    await publish(_record(other, next(outbox), version=1, series=f"KXO{tag}"))
    running = await kit.connector(
        simulator,
        venue=VENUE,
        rest_url=simulator.url + "/trade-api/v2",
        follow_secmaster=True,
        select_series=[series],
        wait_subscribed=False,
    )
    connector = running.connector
    await kit.wait(lambda: sorted(connector.symbols) == sorted(wanted[:2]), "the listed markets")
    # A market created later is added; a closed one dropped; an older version ignored.
    await publish(_record(wanted[2], next(outbox), version=1, series=series))
    await kit.wait(lambda: wanted[2] in connector.symbols, "the new market")
    await publish(_record(wanted[0], next(outbox), version=2, status="closed", series=series))
    await kit.wait(lambda: wanted[0] not in connector.symbols, "the closed market dropped")
    await publish(_record(wanted[0], next(outbox), version=1, series=series))
    await kit.wait(lambda: connector.subscribed, "subscriptions acknowledged")
    assert sorted(connector.symbols) == sorted(wanted[1:])
    assert other not in connector.symbols
    await kit.wait(
        lambda: all(connector.books.is_synced(f"{VENUE}:{t}") for t in wanted[1:]), "books"
    )
