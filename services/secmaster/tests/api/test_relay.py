"""The outbox relay: every committed change on ``SECMASTER`` once, in commit order per market."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING

import pytest

from ssmd.bus import Bus, Message, Publisher
from ssmd.contracts.reference import decode_reference, reference_msg_id
from ssmd.contracts.subjects import ref_subject
from ssmd.db import Pool
from ssmd.embedded import NatsServer
from ssmd.secmaster.relay import OutboxRow, one_round, outbox_id_of

if TYPE_CHECKING:
    from conftest import Kit, RelayFactory


async def _outbox(pool: Pool) -> list[OutboxRow]:
    rows = await pool.fetch("SELECT id, venue, market_id, change, payload FROM outbox ORDER BY id")
    return [
        OutboxRow(r["id"], r["venue"], r["market_id"], r["change"], bytes(r["payload"]))
        for r in rows
    ]


def _assert_each_row_once_in_order(rows: list[OutboxRow], messages: list[Message]) -> None:
    """The stream holds every outbox row once, and each market's versions go 1, 2, 3..."""
    ids = [outbox_id_of(m.msg_id) for m in messages]
    assert sorted(i for i in ids if i is not None) == [r.outbox_id for r in rows]
    assert len(ids) == len(set(ids))
    by_id = {r.outbox_id: r for r in rows}
    versions: dict[str, list[int]] = defaultdict(list)
    for message in messages:
        row = by_id[outbox_id_of(message.msg_id) or 0]
        assert message.subject == ref_subject(row.venue, row.change, row.market_id)
        assert message.data == row.payload
        record = decode_reference(message.data)
        assert record.outbox_id == row.outbox_id
        versions[record.market].append(record.version)
    for market, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), market


def test_a_round_ends_before_the_first_market_seen_twice() -> None:
    rows = [
        OutboxRow(1, "kalshi", "kalshi:A", "created", b""),
        OutboxRow(2, "kalshi", "kalshi:B", "created", b""),
        OutboxRow(3, "kalshi", "kalshi:A", "status", b""),
        OutboxRow(4, "kalshi", "kalshi:C", "created", b""),
    ]
    assert [r.outbox_id for r in one_round(rows)] == [1, 2]
    assert one_round([]) == []


def test_outbox_ids_are_read_back_only_from_relay_msg_ids() -> None:
    assert outbox_id_of(reference_msg_id(42)) == 42
    assert outbox_id_of("sm-") is None
    assert outbox_id_of("sm-4x") is None
    assert outbox_id_of("other-42") is None
    assert outbox_id_of(None) is None


async def test_relay_publishes_rows_in_id_order_with_sm_msg_ids_and_marks_them_sent(
    pool: Pool, bus: Bus, relays: RelayFactory, kit: type[Kit]
) -> None:
    records = [kit.market("kalshi", f"KXT-25NOV30-T{i}", title=f"t {i}") for i in range(30)]
    await kit.apply(pool, "kalshi", records)
    await kit.apply(
        pool, "kalshi", [kit.market("kalshi", r.symbol, title="new") for r in records[:10]]
    )
    for record in records[:5]:
        await kit.set_status(pool, record.market, "closed")
    relay = relays(batch=7)
    await kit.wait_until_sent(pool)
    rows = await _outbox(pool)
    assert len(rows) == 45
    messages = await kit.read_stream(bus)
    assert [outbox_id_of(m.msg_id) for m in messages] == [r.outbox_id for r in rows]
    assert [m.msg_id for m in messages] == [f"sm-{r.outbox_id}" for r in rows]
    _assert_each_row_once_in_order(rows, messages)
    assert relay.last_outbox_id == rows[-1].outbox_id
    assert [decode_reference(m.data).change for m in messages[-5:]] == ["status"] * 5


async def test_relay_restarted_after_publishing_but_before_marking_sends_nothing_twice(
    pool: Pool, bus: Bus, relays: RelayFactory, kit: type[Kit]
) -> None:
    # A 1 s duplicate window that has passed by the restart: only the recovery prevents
    # duplicates here, not JetStream's msg-id check.
    await kit.reset_secmaster_stream(bus, duplicate_window_s=1.0)
    await kit.apply(pool, "kalshi", [kit.market("kalshi", f"KXR-{i}") for i in range(50)])
    rows = await _outbox(pool)
    # The dead relay's round: NATS stored some of its messages, not a prefix, none marked.
    published = rows[:10] + rows[14:20]
    async with Publisher(bus, name="dead-relay") as publisher:
        for row in published:
            await publisher.publish(row.subject, row.payload, msg_id=row.msg_id)
    await asyncio.sleep(1.5)
    relay = relays()
    await kit.wait_until_sent(pool)
    messages = await kit.read_stream(bus)
    assert len(messages) == 50
    _assert_each_row_once_in_order(rows, messages)
    assert relay.recovered_rows == len(published)


async def test_relay_waits_while_nats_is_down_and_resumes(
    pool: Pool, bus: Bus, relays: RelayFactory, kit: type[Kit], nats_server: NatsServer
) -> None:
    records = [kit.market("polymarket", f"0xc{i:04d}", title="q") for i in range(100)]
    relays()
    await kit.apply(pool, "polymarket", records)
    await kit.wait_until_sent(pool)
    await asyncio.to_thread(nats_server.kill)
    try:
        await kit.apply(pool, "polymarket", [kit.market("polymarket", r.symbol) for r in records])
        await asyncio.sleep(1.0)
        assert await kit.unsent(pool) > 0  # nothing can be published now
    finally:
        await asyncio.to_thread(nats_server.start)
    await kit.wait_until_sent(pool, timeout_s=40)
    messages = await kit.read_stream(bus)
    _assert_each_row_once_in_order(await _outbox(pool), messages)
    assert len(messages) == 200


async def test_only_one_relay_works_at_a_time(
    pool: Pool, bus: Bus, relays: RelayFactory, kit: type[Kit]
) -> None:
    first = relays()
    await kit.apply(pool, "kalshi", [kit.market("kalshi", "KXONE-1")])
    await kit.wait_until_sent(pool)
    second = relays()
    await asyncio.sleep(0.3)
    assert first.state == "relaying"
    assert second.state == "waiting for the relay lock"
    await kit.apply(pool, "kalshi", [kit.market("kalshi", f"KXONE-{i}") for i in range(2, 30)])
    await kit.wait_until_sent(pool)
    messages = await kit.read_stream(bus)
    _assert_each_row_once_in_order(await _outbox(pool), messages)
    assert second.last_outbox_id == 0


@pytest.mark.timeout(20)
async def test_a_commit_wakes_the_relay_without_waiting_for_the_idle_poll(
    pool: Pool, bus: Bus, relays: RelayFactory, kit: type[Kit]
) -> None:
    relays(idle_s=60.0)
    await asyncio.sleep(0.3)  # the relay found nothing and waits (up to 60 s)
    await kit.apply(
        pool, "kraken_futures", [kit.market("kraken_futures", "PF_XBTUSD", kind="perpetual")]
    )
    await kit.wait_until_sent(pool, timeout_s=5.0)
