"""The HTTP API over real uvicorn and NATS: answers, errors with reasons, docs, metrics."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ssmd.gateway.api import ARCHIVE_FILES_HEADER, ErrorDoc, FeedsDoc, TradesDoc

pytestmark = pytest.mark.integration

MARKET = "kraken_futures:PF_XBTUSD"
H = 3_600_000_000_000
T0 = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z


@pytest.fixture
def archived(archive_dir: Path, kit: Any) -> Path:
    """Six hours of two markets; the market under test trades 4 times an hour."""
    trade = kit.trade
    events = [
        trade(T0 + h * H + i * 60_000_000_000, seq=h * 100 + i, trade_id=f"{h}-{i}")
        for h in range(6)
        for i in range(4)
    ]
    events += [trade(T0 + h * H + 7, market="kraken_futures:PF_ETHUSD") for h in range(6)]
    kit.write_archive(archive_dir, events)
    return archive_dir


async def test_trades_of_one_market_hour_come_from_one_file_in_order(
    running_gateway: Any, archived: Path
) -> None:
    gw = await running_gateway()
    status, body, headers = await gw.get(
        "/v1/trades", market=MARKET, start="2024-05-01T14:00:00Z", end="2024-05-01T15:00:00Z"
    )
    assert status == 200, body
    TradesDoc.model_validate(body)  # the documented shape is the real one
    assert headers[ARCHIVE_FILES_HEADER] == "1"
    assert body["market"] == MARKET
    assert body["count"] == 4
    assert [t["seq"] for t in body["trades"]] == [200, 201, 202, 203]
    assert body["trades"][1] == {
        "ts_event": "2024-05-01T14:01:00.000000000Z",
        "ts_event_ns": T0 + 2 * H + 60_000_000_000,
        "price": "64000.5",
        "size": "0.01",
        "side": "buy",
        "trade_id": "2-1",
        "seq": 201,
    }
    assert body["sources"] == {"archive": 4, "tail": 0}
    assert body["truncated"] is False


async def test_time_filters_and_limit_over_several_hours(
    running_gateway: Any, archived: Path
) -> None:
    gw = await running_gateway()
    start = T0 + H + 2 * 60_000_000_000  # 13:02
    status, body, headers = await gw.get(
        "/v1/trades", market=MARKET, start=start, end=T0 + 4 * H, limit=5
    )
    assert status == 200, body
    assert [t["seq"] for t in body["trades"]] == [102, 103, 200, 201, 202]
    assert body["truncated"] is True
    assert int(headers[ARCHIVE_FILES_HEADER]) == 3  # 13:00, then 14:00 and 15:00


async def test_unknown_market_is_200_with_no_trades(running_gateway: Any, archived: Path) -> None:
    gw = await running_gateway()
    status, body, _ = await gw.get("/v1/trades", market="kraken_futures:NOPE", start=T0, end=T0 + H)
    assert status == 200, body
    assert (body["count"], body["trades"]) == (0, [])


@pytest.mark.parametrize(
    "case",
    [
        ({"start": T0}, 422, "market", "Field required"),
        ({"market": MARKET}, 422, "start", "Field required"),
        ({"market": MARKET, "start": T0, "limit": "many"}, 422, "limit", "valid integer"),
        ({"market": "binance:BTC", "start": T0}, 400, "market", "unknown venue 'binance'"),
        ({"market": MARKET, "start": T0 + H, "end": T0}, 400, "start", "must be before end"),
        ({"market": MARKET, "start": T0, "limit": 10_001}, 400, "limit", "maximum 10000"),
        ({"market": MARKET, "start": "noon"}, 400, "start", "neither ISO-8601"),
        ({"market": MARKET, "start": "1714564800"}, 400, "start", "looks like seconds"),
    ],
)
async def test_bad_parameters_answer_4xx_naming_the_parameter(
    running_gateway: Any, archived: Path, case: tuple[dict[str, Any], int, str, str]
) -> None:
    params, status, parameter, reason = case
    gw = await running_gateway()
    got, body, _ = await gw.get("/v1/trades", **params)
    assert got == status, body
    ErrorDoc.model_validate(body)
    assert body["error"] == "invalid_parameter"
    assert body["parameter"] == parameter
    assert reason in body["reason"]


async def test_feeds_rejects_unknown_filters(running_gateway: Any, archived: Path) -> None:
    gw = await running_gateway()
    status, body, _ = await gw.get("/v1/feeds", venue="binance")
    assert (status, body["parameter"]) == (400, "venue")
    status, body, _ = await gw.get("/v1/feeds", channel="trades")
    assert (status, body["parameter"]) == (400, "channel")
    status, body, _ = await gw.get("/v1/feeds")
    assert status == 200
    FeedsDoc.model_validate(body)


async def test_openapi_docs_are_served(running_gateway: Any, archived: Path) -> None:
    gw = await running_gateway()
    async with gw.http.get(gw.url + "/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    assert {"/v1/trades", "/v1/feeds"} <= set(document["paths"])
    parameters = {p["name"] for p in document["paths"]["/v1/trades"]["get"]["parameters"]}
    assert parameters == {"market", "start", "end", "limit"}
    async with gw.http.get(gw.url + "/docs") as response:
        assert response.status == 200


async def test_metrics_count_requests_by_route_and_status(
    running_gateway: Any, archived: Path
) -> None:
    gw = await running_gateway()
    await gw.get("/v1/trades", market=MARKET, start=T0, end=T0 + H)
    await gw.get("/v1/trades", market="binance:X", start=T0)
    status, text = await gw.admin("/metrics")
    assert status == 200
    assert 'ssmd_gateway_requests_total{route="/v1/trades",status="200"} 1.0' in text
    assert 'ssmd_gateway_requests_total{route="/v1/trades",status="400"} 1.0' in text
    assert "ssmd_gateway_query_seconds_count 1.0" in text
    assert "ssmd_gateway_archive_files_read_total 1.0" in text
    assert 'ssmd_gateway_tail_up{venue="kraken_futures"}' in text


async def test_readiness_needs_the_archive_dir(running_gateway: Any, archived: Path) -> None:
    gw = await running_gateway()
    status, text = await gw.admin("/readyz")
    assert status == 200, text
    shutil.rmtree(archived)
    status, text = await gw.admin("/readyz")
    assert status == 503
    assert "does not exist" in text
