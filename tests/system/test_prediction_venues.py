"""Kalshi and Polymarket end to end under faults, with the simulator's ledger as truth.

The same path as the Kraken Futures tests (simulator -> connector -> JetStream -> archiver
-> Parquet, all real processes; see conftest), for the two prediction-market venues:
disconnects, sequence gaps (Kalshi: ``seq`` jumps on a sid; Polymarket: lost price changes
seen as a book that disagrees with the venue), malformed frames, a market that settles
mid-stream, Kalshi's per-subscription market cap (error 26) and signed handshakes, and
Polymarket's per-connection asset cap. Every trade the simulator sent is archived exactly
once.

Disconnects close the socket with a close frame: neither venue re-sends trades to a new
connection, so a frame the venue wrote into a socket that then vanished (TCP abort) is
lost to any client; recovering those needs a REST trade backfill (not built yet).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ssmd.bus import DLQ_REASON
from ssmd.contracts.events import Gap, MarketStatus, decode_event

if TYPE_CHECKING:
    from conftest import Mesh, MeshFactory

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]

RUN_S = 4.0
MIN_TRADES = 300
VENUES = ("kalshi", "polymarket")


def _settle_and_check(mesh: Mesh) -> Counter[tuple[str, str]]:
    mesh.settle()
    sent = mesh.assert_trades_archived_exactly_once()
    assert len(sent) >= MIN_TRADES, f"only {len(sent)} trades sent"
    return sent


def _md_events(mesh: Mesh) -> list[Any]:
    return [decode_event(message.data) for message in mesh.read_stream(mesh.md)]


def _one_market(mesh: Mesh) -> tuple[str, str]:
    """(simulator product, canonical market id) of the first market of the venue."""
    connections = mesh.ledger(kind="data")
    products = sorted({entry["product"] for entry in connections if entry["product"]})
    assert products, "the simulator sent no market data"
    product = products[0]
    return product, f"{mesh.venue}:{product}"


@pytest.mark.parametrize("venue", VENUES)
def test_disconnects_and_sequence_gaps_archive_every_sent_trade_once(
    venue_mesh: MeshFactory, venue: str
) -> None:
    mesh = venue_mesh(venue)
    mesh.start_simulator()
    # Polymarket has no sequence numbers: lost price changes show as a book that disagrees
    # with the venue's best bid/ask, or with a refreshed book (every 2 s here).
    mesh.start_connector(**({"book_refresh_s": 2} if venue == "polymarket" else {}))
    mesh.start_archiver()
    time.sleep(RUN_S)
    product, market = _one_market(mesh)
    for _ in range(3):
        mesh.wait_subscribed()
        dropped = mesh.fault("drop_connections", mode="close")["dropped"]
        assert len(dropped) == 1, dropped
        time.sleep(2.0)
        mesh.wait_subscribed()
        mesh.fault("skip_seq", product=product, count=3 if venue == "kalshi" else 40)
        time.sleep(2.5)
    time.sleep(RUN_S)
    _settle_and_check(mesh)
    assert len(mesh.connections_seen()) >= 4
    gaps = [event for event in _md_events(mesh) if isinstance(event, Gap)]
    reasons = Counter(gap.reason for gap in gaps)
    assert reasons["reconnect"] >= 3, reasons
    gap_reasons = {"seq"} if venue == "kalshi" else {"book_mismatch", "snapshot_mismatch"}
    lost = [gap for gap in gaps if gap.reason in gap_reasons]
    assert lost, f"no {gap_reasons} gap after skip_seq: {reasons}"
    assert any(gap.market == market for gap in lost)
    if venue == "kalshi":
        assert all(gap.expected_seq is not None for gap in lost)
        assert all(gap.received_seq > gap.expected_seq for gap in lost)


@pytest.mark.parametrize("venue", VENUES)
def test_malformed_frames_and_a_market_settling_mid_stream(
    venue_mesh: MeshFactory, venue: str
) -> None:
    mesh = venue_mesh(venue)
    mesh.start_all()
    mesh.fault("malformed", rate=0.01)
    time.sleep(RUN_S)
    product, market = _one_market(mesh)
    for action in ("close", "determine", "settle"):
        mesh.lifecycle(product, action)
    time.sleep(RUN_S)
    ready = mesh.connector_readiness()
    assert ready[0] == 200, ready
    metrics = mesh.connector_metrics()
    assert metrics.get("ssmd_connector_dropped_markets_total", 0) >= 1, metrics
    assert metrics["ssmd_connector_markets"] == len(mesh.markets) - 1
    _settle_and_check(mesh)
    statuses = [
        event
        for event in _md_events(mesh)
        if isinstance(event, MarketStatus) and event.market == market
    ]
    assert statuses, "no MarketStatus for the settled market"
    assert statuses[-1].status == "settled"
    # Every malformed frame is in the dead-letter stream with its reason, count for count.
    sent = Counter(
        entry["detail"].encode() for entry in mesh.ledger(kind="fault", feed="malformed")
    )
    assert sum(sent.values()) >= 20, sent
    dead = mesh.read_stream(mesh.dlq)
    assert all(message.headers.get(DLQ_REASON) for message in dead)
    assert Counter(message.data for message in dead) == sent


def test_kalshi_market_cap_error_26_splits_the_subscription(venue_mesh: MeshFactory) -> None:
    mesh = venue_mesh("kalshi")
    mesh.start_simulator(subscription_market_cap=2)  # three markets: one subscription is refused
    mesh.start_connector()
    mesh.start_archiver()
    time.sleep(RUN_S * 2)
    refused = [e for e in mesh.ledger(kind="control", feed="error") if e["detail"] == "26"]
    assert refused, "the simulator never answered error 26"
    _settle_and_check(mesh)
    traded = {key[0] for key in mesh.archived_trades()}
    assert traded == {f"kalshi:{product}" for product in mesh.markets}


def _rsa_key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def test_kalshi_wrong_or_expired_signature_is_a_clear_error_without_a_crash_loop(
    venue_mesh: MeshFactory, tmp_path: Path
) -> None:
    right_key, public_key = _rsa_key_pair(tmp_path, "right")
    wrong_key, _ = _rsa_key_pair(tmp_path, "wrong")
    mesh = venue_mesh("kalshi")
    mesh.start_simulator(kalshi_public_key_path=public_key)
    signed = {"api_key_id": "test-key", "channels": ["trade", "orderbook_delta", "fill"]}

    mesh.start_connector(wait_ready=False, api_private_key_path=wrong_key, **signed)
    time.sleep(3.0)
    status, body = mesh.connector_readiness()
    assert status == 503
    assert "401" in json.dumps(body), body
    assert mesh.connector is not None
    assert mesh.connector.is_running, "a refused signature must not crash the connector"
    refusals = mesh.ledger(kind="control", feed="auth")
    assert 1 <= len(refusals) <= 20, f"{len(refusals)} attempts in 3 s: no backoff?"
    assert all("signature" in entry["detail"] for entry in refusals), refusals
    mesh.connector.stop()

    # A clock 10 minutes off: the simulator says the timestamp is out of its window.
    mesh.restart_simulator(kalshi_public_key_path=public_key, kalshi_signature_max_age_s=0.001)
    mesh.start_connector(wait_ready=False, api_private_key_path=right_key, **signed)
    time.sleep(3.0)
    status, body = mesh.connector_readiness()
    assert status == 503
    expired = mesh.ledger(kind="control", feed="auth")
    assert any("expired" in entry["detail"] or "window" in entry["detail"] for entry in expired)
    mesh.connector.stop()

    # The right key within the window: ready, which needs the private channel acknowledged,
    # and no "authentication required" (error 9) on the signed connection.
    mesh.restart_simulator(kalshi_public_key_path=public_key)
    mesh.start_connector(api_private_key_path=right_key, **signed)
    mesh.wait_connector_ready()
    assert mesh.ledger(kind="control", feed="subscribed")
    assert not [e for e in mesh.ledger(kind="control", feed="error") if e["detail"] == "9"]


def test_polymarket_markets_are_spread_over_sockets_under_the_asset_cap(
    venue_mesh: MeshFactory,
) -> None:
    mesh = venue_mesh("polymarket")
    mesh.start_simulator(max_assets_per_connection=4)  # two markets (YES + NO tokens) each
    mesh.start_connector(markets_per_socket=2)
    mesh.start_archiver()
    time.sleep(RUN_S * 2)
    connections = mesh.connections()
    assert len(connections) == 2, connections
    _settle_and_check(mesh)
    traded = {key[0] for key in mesh.archived_trades()}
    assert len(traded) == len(mesh.markets)
