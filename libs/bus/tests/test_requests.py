"""Core-NATS request/reply: answers, errors as replies, no responder."""

from __future__ import annotations

import msgspec
import pytest

from ssmd.bus import BusSettings, RequestServer, connect, request
from ssmd.core.errors import UnavailableError


async def test_server_answers_and_a_failing_handler_replies_with_its_error(nats_url: str) -> None:
    bus = await connect(BusSettings(urls=[nats_url], name="test-requests"))
    seen: list[bytes] = []

    async def handler(body: bytes) -> bytes:
        seen.append(body)
        if body == b"boom":
            raise ValueError("no such market")
        return body.upper()

    server = RequestServer(bus, "ctl.test.echo", handler)
    await server.start()
    try:
        assert await request(bus, "ctl.test.echo", b"hello") == b"HELLO"
        error = msgspec.json.decode(await request(bus, "ctl.test.echo", b"boom"))
        assert error == {"error": "ValueError: no such market"}
        assert seen == [b"hello", b"boom"]
        assert (server.served, server.failed) == (1, 1)
    finally:
        await server.stop()
        await bus.close()


async def test_request_without_a_server_is_unavailable(nats_url: str) -> None:
    bus = await connect(BusSettings(urls=[nats_url], name="test-requests"))
    try:
        with pytest.raises(UnavailableError, match="is a server listening"):
            await request(bus, "ctl.test.nobody", b"x", timeout_s=1.0)
    finally:
        await bus.close()
