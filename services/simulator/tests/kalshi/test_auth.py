"""The signed WebSocket handshake of the simulated Kalshi (VENUES.md 1.2), over a socket."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ssmd.venues.kalshi.config import HEADER_SIGNATURE, HEADER_TIMESTAMP

if TYPE_CHECKING:
    from conftest import KalshiVenue, Signer, VenueFactory

pytestmark = pytest.mark.integration

Keys = tuple[rsa.RSAPrivateKey, Path, Path]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _refused(venue: KalshiVenue, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await venue.connect(headers=headers)
    assert caught.value.status == 401
    async with venue.http.get(f"{venue.url}/trade-api/ws/v2", headers=headers) as answer:
        return answer.status, await answer.json()


async def test_a_handshake_signed_with_the_right_key_may_subscribe_private_channels(
    kalshi: VenueFactory, rsa_keys: Keys, sign: Signer
) -> None:
    venue = await kalshi(events_per_s=0.0, kalshi_public_key_path=rsa_keys[1])
    client = await venue.connect(headers=sign(_now_ms()))
    await client.command("subscribe", {"channels": ["fill", "market_positions"]})
    replies = [await client.receive_json(), await client.receive_json()]
    assert [r["msg"] for r in replies] == [
        {"channel": "fill", "sid": 1},
        {"channel": "market_positions", "sid": 2},
    ]
    assert venue.exchange.connection_states()[0]["signed"] is True
    assert await client.drain(quiet_s=0.2) == [], "no orders here: nothing flows"


async def test_a_wrong_key_is_refused_with_401(
    kalshi: VenueFactory, rsa_keys: Keys, sign: Signer
) -> None:
    venue = await kalshi(events_per_s=0.0, kalshi_public_key_path=rsa_keys[2])
    status, body = await _refused(venue, sign(_now_ms()))
    assert status == 401
    assert body["code"] == "authentication_error"
    assert body["message"] == "invalid signature"
    assert set(body) == {"code", "message", "details", "service"}
    entries = venue.ledger.entries(kind="control", feed="auth")
    assert [e.detail for e in entries] == ["invalid signature", "invalid signature"]


async def test_an_expired_timestamp_is_refused(
    kalshi: VenueFactory, rsa_keys: Keys, sign: Signer
) -> None:
    venue = await kalshi(
        events_per_s=0.0, kalshi_public_key_path=rsa_keys[1], kalshi_signature_max_age_s=5
    )
    _, body = await _refused(venue, sign(_now_ms() - 60_000))
    assert "expired" in body["message"]
    assert body["details"] == HEADER_TIMESTAMP


async def test_a_missing_header_is_named(
    kalshi: VenueFactory, rsa_keys: Keys, sign: Signer
) -> None:
    venue = await kalshi(events_per_s=0.0, kalshi_public_key_path=rsa_keys[1])
    headers = sign(_now_ms())
    del headers[HEADER_SIGNATURE]
    _, body = await _refused(venue, headers)
    assert body["message"] == f"missing header {HEADER_SIGNATURE}"


async def test_unsigned_connections_get_public_data_but_error_9_on_private_channels(
    kalshi: VenueFactory, rsa_keys: Keys
) -> None:
    venue = await kalshi(events_per_s=0.0, kalshi_public_key_path=rsa_keys[1])
    client = await venue.connect()
    await client.command("subscribe", {"channels": ["market_lifecycle_v2"]})
    assert (await client.receive_json())["type"] == "subscribed"
    await client.command("subscribe", {"channels": ["trade", "market_positions"]})
    reply = await client.receive_json()
    assert reply == {
        "id": 2,
        "type": "error",
        "msg": {"code": 9, "msg": "Authentication required: market_positions"},
    }
    assert venue.exchange.connection_states()[0]["signed"] is False
