"""The lookup API end to end: a secmaster running in-process on real Postgres, NATS, Valkey."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ssmd.db import Pool

if TYPE_CHECKING:
    from conftest import Kit, RunningSecmaster, SecmasterFactory

BTC_TITLE = "Will BTC close above 100k on Nov 30?"


async def _page_through(running: RunningSecmaster, **params: Any) -> list[str]:
    """Every market id of a listing, following next_cursor to the end."""
    seen: list[str] = []
    cursor = None
    for _ in range(1000):
        status, body = await running.get("/v1/markets", cursor=cursor, **params)
        assert status == 200, body
        assert body["count"] == len(body["markets"])
        seen += [market["market"] for market in body["markets"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the listing never ended")


async def test_a_market_is_found_by_its_id_with_version_and_listing(
    pool: Pool, secmasters: SecmasterFactory, kit: type[Kit]
) -> None:
    record = kit.market(
        "kalshi",
        "KXHIGHNY-25NOV30-B53.5",
        title="Highest temperature in NYC",
        series="KXHIGHNY",
        event="KXHIGHNY-25NOV30",
        close_ts_ns=kit.NOW_NS + kit.DAY_NS,
        attributes={"strike": "53.5"},
    )
    await kit.apply(pool, "kalshi", [record])
    running = await secmasters(cache=False)
    status, body = await running.get("/v1/markets/kalshi:KXHIGHNY-25NOV30-B53.5")
    assert status == 200
    assert body["market"] == "kalshi:KXHIGHNY-25NOV30-B53.5"
    assert body["symbol"] == "KXHIGHNY-25NOV30-B53.5"
    assert (body["venue"], body["kind"], body["status"]) == ("kalshi", "binary", "open")
    assert (body["series"], body["event"]) == ("KXHIGHNY", "KXHIGHNY-25NOV30")
    assert body["close_ts_ns"] == kit.NOW_NS + kit.DAY_NS
    assert body["attributes"] == {"strike": "53.5"}
    assert (body["version"], body["listed"]) == (1, True)
    assert body["updated_ts_ns"] == kit.NOW_NS // 1000 * 1000


async def test_unknown_market_ids_are_404(secmasters: SecmasterFactory) -> None:
    running = await secmasters(cache=False)
    for ref in ("kalshi:NOPE", "polymarket:0xnope", "12345", "not a market"):
        status, body = await running.get(f"/v1/markets/{ref}")
        assert status == 404, ref
        assert body["error"] == "not_found"
        assert ref in body["reason"]
    status, body = await running.get("/v1/markets/kalshi:NOPE/links")
    assert (status, body["error"]) == (404, "not_found")


async def test_a_polymarket_token_id_returns_its_market(
    pool: Pool, secmasters: SecmasterFactory, kit: type[Kit]
) -> None:
    tokens = (
        (
            "71321045679252212594626385532706912750332728571942532289631379312455583992563",
            "Yes",
            True,
        ),
        (
            "52114319501245915516055106046884209969926127482827954674443846427813813222426",
            "No",
            False,
        ),
    )
    await kit.apply(
        pool, "polymarket", [kit.market("polymarket", "0xdd22", title=BTC_TITLE, tokens=tokens)]
    )
    running = await secmasters()
    for ref in (f"polymarket:{tokens[0][0]}", tokens[1][0], "polymarket:0xdd22"):
        status, body = await running.get(f"/v1/markets/{ref}")
        assert (status, body["market"]) == (200, "polymarket:0xdd22"), ref
        assert [t["token_id"] for t in body["tokens"]] == [tokens[0][0], tokens[1][0]]


async def test_pagination_over_2500_markets_returns_each_once(
    pool: Pool, secmasters: SecmasterFactory, kit: type[Kit]
) -> None:
    symbols = [f"KXP{n % 7}-25DEC{n // 100:02d}-T{n}" for n in range(2500)]
    await kit.apply(
        pool, "kalshi", [kit.market("kalshi", s, series=s.split("-")[0]) for s in symbols]
    )
    running = await secmasters()
    await running.settle(pool)  # the two Kraken instruments are synced
    seen = await _page_through(running, venue="kalshi", limit=300)
    assert len(seen) == 2500
    assert sorted(seen) == sorted(f"kalshi:{s}" for s in symbols)
    assert seen == sorted(seen)  # keyset order: market id
    everything = await _page_through(running, limit=1000)
    assert len(everything) == 2500 + 2  # and the two synced Kraken instruments...
    assert len(set(everything)) == len(everything)
    series = await _page_through(running, venue="kalshi", series="KXP3")
    assert sorted(series) == sorted(f"kalshi:{s}" for s in symbols if s.startswith("KXP3-"))
    status, body = await running.get("/v1/markets")
    assert (status, body["count"]) == (200, 100)  # the default page


async def test_markets_are_filtered_by_status_and_searched_by_words(
    pool: Pool, secmasters: SecmasterFactory, kit: type[Kit]
) -> None:
    await kit.apply(
        pool,
        "kalshi",
        [
            kit.market("kalshi", "KXBTC-1", title=BTC_TITLE),
            kit.market("kalshi", "KXFED-1", title="Will the Fed cut rates in December?"),
            kit.market("kalshi", "KXETH-1", title="Will ETH close above 4k?", status="closed"),
        ],
    )
    running = await secmasters()
    status, body = await running.get("/v1/markets", q="fed rates")
    assert status == 200
    assert [m["market"] for m in body["markets"]] == ["kalshi:KXFED-1"]
    status, body = await running.get("/v1/markets", q="close above")
    assert [m["market"] for m in body["markets"]] == ["kalshi:KXBTC-1", "kalshi:KXETH-1"]
    status, body = await running.get("/v1/markets", venue="kalshi", status="closed")
    assert [m["market"] for m in body["markets"]] == ["kalshi:KXETH-1"]
    status, body = await running.get("/v1/markets", q="KXFED-1")  # symbols are searchable too
    assert [m["market"] for m in body["markets"]] == ["kalshi:KXFED-1"]
    status, body = await running.get("/v1/markets", q="nothing matches this")
    assert (body["count"], body["next_cursor"]) == (0, None)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"status": "live"}, "status"),
        ({"venue": "nyse"}, "venue"),
        ({"q": "  "}, "q"),
        ({"series": "x" * 201}, "series"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WzEsImEiLCJiIl0"}, "cursor"),  # a well-formed cursor of other filters
    ],
)
async def test_bad_list_parameters_are_400_with_a_reason(
    secmasters: SecmasterFactory, params: dict[str, Any], parameter: str
) -> None:
    running = await secmasters(cache=False)
    status, body = await running.get("/v1/markets", **params)
    assert status == 400, body
    assert (body["error"], body["parameter"]) == ("invalid_parameter", parameter)
    assert body["reason"]


async def test_a_cursor_is_bound_to_the_filters_it_was_made_with(
    pool: Pool, secmasters: SecmasterFactory, kit: type[Kit]
) -> None:
    await kit.apply(pool, "kalshi", [kit.market("kalshi", f"KXC-{n}") for n in range(3)])
    running = await secmasters()
    _, body = await running.get("/v1/markets", venue="kalshi", limit=1)
    status, other = await running.get("/v1/markets", venue="polymarket", cursor=body["next_cursor"])
    assert (status, other["parameter"]) == (400, "cursor")
    status, same = await running.get("/v1/markets", venue="kalshi", cursor=body["next_cursor"])
    assert status == 200
    assert same["markets"][0]["market"] == "kalshi:KXC-1"


async def test_manual_links_are_versioned_and_shown_from_both_sides(
    pool: Pool, secmasters: SecmasterFactory, kit: type[Kit]
) -> None:
    await kit.apply(pool, "kalshi", [kit.market("kalshi", "KXBTC-1", title=BTC_TITLE)])
    await kit.apply(pool, "polymarket", [kit.market("polymarket", "0xbtc", title=BTC_TITLE)])
    running = await secmasters()
    body = {
        "left": "polymarket:0xbtc",
        "right": "kalshi:KXBTC-1",
        "state": "accepted",
        "note": "same",
    }
    status, first = await running.post("/v1/links", body)
    assert status == 201, first
    assert (first["left"], first["right"]) == ("kalshi:KXBTC-1", "polymarket:0xbtc")  # ordered
    assert (first["version"], first["state"], first["origin"]) == (1, "accepted", "manual")
    _, links = await running.get("/v1/markets/kalshi:KXBTC-1/links")  # now cached
    assert [(link["other"], link["version"]) for link in links["links"]] == [
        ("polymarket:0xbtc", 1)
    ]
    status, second = await running.post("/v1/links", {**body, "state": "rejected", "note": "no"})
    assert (status, second["version"], second["state"]) == (201, 2, "rejected")
    _, links = await running.get("/v1/markets/polymarket:0xbtc/links")
    assert [(link["other"], link["version"], link["state"]) for link in links["links"]] == [
        ("kalshi:KXBTC-1", 2, "rejected")
    ]
    _, links = await running.get("/v1/markets/kalshi:KXBTC-1/links")  # the write invalidated it
    assert [link["version"] for link in links["links"]] == [2]
    _, history = await running.get("/v1/markets/kalshi:KXBTC-1/links", history="true")
    assert [(link["version"], link["current"]) for link in history["links"]] == [
        (1, False),
        (2, True),
    ]
    assert [link["note"] for link in history["links"]] == ["same", "no"]


@pytest.mark.parametrize(
    ("body", "status", "parameter"),
    [
        ({"left": "kalshi:A", "right": "kalshi:NOPE", "state": "accepted"}, 404, "right"),
        ({"left": "kalshi:A", "right": "kalshi:B", "state": "accepted"}, 400, "right"),
        ({"left": "kalshi:A", "right": "kalshi:A", "state": "accepted"}, 400, "right"),
        ({"left": "kalshi:A", "right": "polymarket:0xa", "state": "maybe"}, 400, "state"),
        ({"left": "kalshi:A", "state": "accepted"}, 400, "right"),
        ({"left": "kalshi:A", "right": "polymarket:0xa", "state": "accepted", "x": 1}, 400, "x"),
    ],
)
async def test_bad_link_requests_are_refused_with_a_reason(
    *,
    pool: Pool,
    secmasters: SecmasterFactory,
    kit: type[Kit],
    body: dict[str, Any],
    status: int,
    parameter: str,
) -> None:
    await kit.apply(pool, "kalshi", [kit.market("kalshi", "A"), kit.market("kalshi", "B")])
    await kit.apply(pool, "polymarket", [kit.market("polymarket", "0xa")])
    running = await secmasters(cache=False)
    answer = await running.post("/v1/links", body)
    assert answer[0] == status, answer
    assert answer[1]["parameter"] == parameter
    assert answer[1]["reason"]


async def test_the_matcher_proposes_the_obvious_pair_and_not_unrelated_ones(
    pool: Pool, secmasters: SecmasterFactory, kit: type[Kit]
) -> None:
    close = kit.NOW_NS + 6 * kit.DAY_NS
    await kit.apply(
        pool,
        "kalshi",
        [
            kit.market("kalshi", "KXBTC-100K", title=BTC_TITLE, close_ts_ns=close),
            kit.market("kalshi", "KXBTC-90K", title="Will BTC close above 90k on Nov 30?"),
            kit.market("kalshi", "KXFED-DEC", title="Will the Fed cut rates in December?"),
        ],
    )
    await kit.apply(
        pool,
        "polymarket",
        [
            kit.market("polymarket", "0xbtc", title=BTC_TITLE, close_ts_ns=close + 3600 * 10**9),
            kit.market("polymarket", "0xsnow", title="Will it snow in Miami this winter?"),
        ],
    )
    running = await secmasters()
    min_score = running.secmaster.settings.matcher_min_score
    status, report = await running.post("/v1/links/match")
    assert status == 200, report
    pairs = {(p["left"], p["right"]): p["score"] for p in report["proposals"]}
    assert list(pairs) == [("kalshi:KXBTC-100K", "polymarket:0xbtc")]
    assert pairs[("kalshi:KXBTC-100K", "polymarket:0xbtc")] > min_score
    assert report["saved"] == 1
    assert report["markets"] == {"kalshi": 3, "polymarket": 2}
    _, links = await running.get("/v1/markets/polymarket:0xbtc/links")
    assert [(l["other"], l["state"], l["origin"]) for l in links["links"]] == [  # noqa: E741
        ("kalshi:KXBTC-100K", "proposed", "matcher")
    ]
    # A person's decision stands: the matcher does not propose the pair again.
    await running.post(
        "/v1/links",
        {"left": "kalshi:KXBTC-100K", "right": "polymarket:0xbtc", "state": "rejected"},
    )
    status, again = await running.post("/v1/links/match", {"save": True})
    assert (status, again["count"], again["saved"]) == (200, 1, 0)
    status, lower = await running.post("/v1/links/match", {"min_score": 0.3, "save": False})
    assert ("kalshi:KXBTC-90K", "polymarket:0xbtc") in {
        (p["left"], p["right"]) for p in lower["proposals"]
    }
    status, bad = await running.post("/v1/links/match", {"venues": ["kalshi"]})
    assert (status, bad["parameter"]) == (400, "venues")


async def test_sync_on_demand_reports_and_progress_shows_it(
    pool: Pool, secmasters: SecmasterFactory, kit: type[Kit]
) -> None:
    running = await secmasters()
    status, body = await running.post("/v1/sync", venue="kraken_futures")
    assert status == 200, body
    (report,) = body["reports"]
    assert report["venue"] == "kraken_futures"
    assert report["rows"] >= len(kit.KRAKEN_MARKETS)
    status, progress = await running.get("/v1/sync")
    assert status == 200
    assert progress["venues"]["kraken_futures"]["last_report"]["run_id"] >= report["run_id"]
    status, body = await running.post("/v1/sync", venue="kalshi")
    assert (status, body["parameter"]) == (400, "venue")
    for symbol in kit.KRAKEN_MARKETS:
        status, market = await running.get(f"/v1/markets/kraken_futures:{symbol}")
        assert (status, market["kind"]) == (200, "perpetual")


async def test_admin_endpoints_report_health_readiness_and_request_metrics(
    secmasters: SecmasterFactory, kit: type[Kit]
) -> None:
    running = await secmasters()
    assert (await running.admin("/healthz"))[0] == 200

    async def is_ready() -> bool:
        return (await running.admin("/readyz"))[0] == 200

    await kit.eventually(is_ready, "readiness (after the first scheduled sync)", timeout_s=20)
    _, readiness = await running.admin("/readyz")
    for check in ("postgres", "nats", "sync"):
        assert f'"{check}": "ok"' in readiness
    await running.get("/v1/markets/kalshi:NOPE")
    _, metrics = await running.admin("/metrics")
    assert (
        'ssmd_secmaster_requests_total{route="/v1/markets/{market_id}",status="404"} 1.0' in metrics
    )


async def test_the_openapi_document_lists_every_endpoint(secmasters: SecmasterFactory) -> None:
    running = await secmasters(cache=False)
    status, document = await running.get("/openapi.json")
    assert status == 200
    assert {(path, method) for path, item in document["paths"].items() for method in item} == {
        ("/v1/markets/{market_id}", "get"),
        ("/v1/markets/{market_id}/links", "get"),
        ("/v1/markets", "get"),
        ("/v1/links", "post"),
        ("/v1/links/match", "post"),
        ("/v1/sync", "post"),
        ("/v1/sync", "get"),
    }
