"""`ssmd up` end to end: the whole mesh from one command, on embedded servers.

Starts `ssmd up --duration D` (every venue: Kraken Futures, Kalshi, Polymarket; connectors
follow the secmaster) as a user would and checks, while it runs, that within 40 s the
gateway answers trades for at least three Kraken Futures markets and for Kalshi and
Polymarket markets, that ``/v1/feeds`` lists all three venues, that the secmaster and
`ssmd markets` find the markets, that every service's /metrics answers, and that the
archive is plain Parquet in the documented layout which DuckDB, polars and pandas read with
no ssmd code.
Then `ssmd up` must exit 0 by itself and leave no process behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ssmd.simulator.kalshi.symbols import DEFAULT_MARKETS as KALSHI_MARKETS
from ssmd.simulator.kraken_futures.symbols import DEFAULT_MARKETS as KRAKEN_MARKETS
from ssmd.simulator.polymarket.symbols import DEFAULT_MARKETS as POLYMARKET_SLUGS
from ssmd.simulator.polymarket.symbols import market_ids

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]

DURATION_S = 80
MARKETS: dict[str, tuple[str, ...]] = {
    "kraken_futures": KRAKEN_MARKETS,
    "kalshi": KALSHI_MARKETS,
    "polymarket": tuple(market_ids(slug).condition_id for slug in POLYMARKET_SLUGS),
}
WANTED = {"kraken_futures": 3, "kalshi": 2, "polymarket": 2}
"""Markets with trades each venue must show (synthetic markets trade every few seconds)."""


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline or text in environ:
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def _wait_for(path: Path, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"ssmd up exited early with {process.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"{path} did not appear within {timeout_s}s")
        time.sleep(0.2)


def test_ssmd_up_serves_archives_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "mesh"
    log_path = tmp_path / "ssmd-up.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ssmd.cli",
                "up",
                "--data-dir",
                str(data_dir),
                "--duration",
                str(DURATION_S),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    started = time.monotonic()
    try:
        _wait_for(data_dir / "endpoints.json", process, timeout_s=90)
        up_at = time.monotonic()
        endpoints = json.loads((data_dir / "endpoints.json").read_text())
        trades_url = endpoints["gateway"]["trades"]

        # Within 40 s of the mesh being up, trades of every venue.
        traded: dict[str, set[str]] = {venue: set() for venue in MARKETS}
        start = str(time.time_ns() - 3600 * 1_000_000_000)  # the last hour, in Unix ns

        def enough() -> bool:
            return all(len(traded[venue]) >= n for venue, n in WANTED.items())

        while time.monotonic() - up_at < 40 and not enough():
            for venue, symbols in MARKETS.items():
                for symbol in symbols:
                    query = urllib.parse.urlencode(
                        {"market": f"{venue}:{symbol}", "start": start, "limit": 10}
                    )
                    if _get_json(f"{trades_url}?{query}")["count"] > 0:
                        traded[venue].add(symbol)
            time.sleep(1)
        assert enough(), f"trades for {traded}; log:\n{log_path.read_text()[-3000:]}"

        feeds = _get_json(endpoints["gateway"]["feeds"])["feeds"]
        assert {feed["venue"] for feed in feeds} == set(MARKETS)
        assert {(feed["venue"], feed["channel"]) for feed in feeds} >= {
            (venue, channel) for venue in MARKETS for channel in ("trade", "book", "quote")
        }

        # The secmaster knows every market, and the CLI finds them.
        kalshi = f"kalshi:{MARKETS['kalshi'][0]}"
        market = _get_json(f"{endpoints['secmaster']['url']}/v1/markets/{kalshi}")
        assert market["market"] == kalshi
        cli = [sys.executable, "-m", "ssmd.cli", "markets", "--data-dir", str(data_dir)]
        found = subprocess.run(
            [*cli, "search", "--venue", "polymarket", "--limit", "100"],
            capture_output=True,
            check=True,
            timeout=30,
        )
        listed = {m["market"] for m in json.loads(found.stdout)["markets"]}
        assert {f"polymarket:{c}" for c in MARKETS["polymarket"]} <= listed

        for name, admin in endpoints["admin"].items():
            with urllib.request.urlopen(f"{admin}/metrics", timeout=10) as response:
                assert response.status == 200, name
                assert b"# TYPE" in response.read()

        archive = Path(endpoints["archive_dir"])
        deadline = time.monotonic() + 30
        for venue in MARKETS:
            while not list(archive.glob(f"venue={venue}/channel=trade/date=*/hour=*/*.parquet")):
                assert time.monotonic() < deadline, f"no {venue} trade Parquet file within 30 s"
                time.sleep(1)
    finally:
        remaining = DURATION_S + 60 - (time.monotonic() - started)
        try:
            code = process.wait(timeout=max(remaining, 5))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"ssmd up did not stop by itself; log:\n{log_path.read_text()[-3000:]}")
    assert code == 0, log_path.read_text()[-3000:]
    assert _processes_mentioning(str(data_dir)) == []

    _read_archive_without_ssmd(data_dir)


def _read_archive_without_ssmd(data_dir: Path) -> None:
    """Plain DuckDB, polars and pandas read the whole archive (all channels at once)."""
    import duckdb
    import pandas as pd
    import polars as pl

    pattern = f"{data_dir}/**/*.parquet"
    rows = duckdb.sql(
        f"SELECT venue, channel, count(*) AS n "
        f"FROM read_parquet('{pattern}', hive_partitioning=true) GROUP BY ALL"
    ).fetchall()
    counts = {(venue, channel): n for venue, channel, n in rows}
    for venue in MARKETS:
        assert counts.get((venue, "trade"), 0) > 0, (venue, counts)
        assert counts.get((venue, "book_delta"), 0) > 0, (venue, counts)
    all_trades = sum(n for (_, channel), n in counts.items() if channel == "trade")
    bucketed = duckdb.sql(
        f"SELECT time_bucket(INTERVAL '1 minute', ts_event) AS minute, count(*) "
        f"FROM read_parquet('{pattern}', hive_partitioning=true) WHERE channel = 'trade' "
        "GROUP BY minute"
    ).fetchall()
    assert sum(n for _, n in bucketed) == all_trades

    for venue in MARKETS:
        trades_dir = data_dir / "archive" / f"venue={venue}" / "channel=trade"
        polars_trades = pl.scan_parquet(f"{trades_dir}/**/*.parquet", hive_partitioning=True)
        assert polars_trades.select(pl.len()).collect().item() == counts[(venue, "trade")]
        pandas_trades = pd.read_parquet(trades_dir)
        assert len(pandas_trades) == counts[(venue, "trade")]
        assert pandas_trades["ts_event"].dtype.name == "datetime64[ns]"
