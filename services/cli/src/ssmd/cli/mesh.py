"""The local mesh `ssmd up` runs: which processes, in which order, wired how.

`plan_mesh` turns the command line into an ordered list of components. Servers come first
(nats-server, PostgreSQL, Valkey from their wheels), then each venue's simulator, the
secmaster (syncing every simulator's REST API into Postgres every few seconds), the
connectors (following the secmaster's change stream for their markets), the archiver and
the gateway. Every port is chosen free on loopback, so a machine that already runs NATS,
Postgres or Redis on their default ports still works. The URLs end up in
``<data-dir>/endpoints.json`` for people and scripts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssmd.embedded import free_port
from ssmd.venues.kalshi import config as kalshi
from ssmd.venues.kraken_futures import config as kraken_futures
from ssmd.venues.polymarket import config as polymarket

KNOWN_VENUES = ("kraken_futures", "kalshi", "polymarket")
"""Venues `ssmd up` runs end to end (simulator + connector); all of them by default."""
VENUE_PATHS: dict[str, tuple[str, str]] = {
    kraken_futures.VENUE: (kraken_futures.WS_PATH, kraken_futures.REST_PATH),
    kalshi.VENUE: (kalshi.WS_PATH, kalshi.REST_PATH),
    polymarket.VENUE: (polymarket.WS_MARKET_PATH, ""),
}
"""(WebSocket path, REST base path) of each venue, as on the real venue and its simulator."""


@dataclass(frozen=True)
class ServicePlan:
    """One ssmd service process: its module and the settings it gets."""

    name: str
    module: str
    env: dict[str, str]
    wait_ready: bool = True


@dataclass
class MeshPlan:
    """Everything `ssmd up` starts, in start order, and where it can be reached."""

    data_dir: Path
    env_token: str
    venues: tuple[str, ...]
    services: list[ServicePlan] = field(default_factory=list)
    endpoints: dict[str, Any] = field(default_factory=dict)

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    def write_endpoints(self) -> Path:
        """Write endpoints.json atomically and return its path."""
        path = self.data_dir / "endpoints.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.endpoints, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, path)
        return path


def parse_venues(text: str) -> tuple[str, ...]:
    """Comma-separated venue names, validated against what can run locally."""
    venues = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not venues:
        raise ValueError("--venues needs at least one venue")
    unknown = [venue for venue in venues if venue not in KNOWN_VENUES]
    if unknown:
        raise ValueError(
            f"unknown venue(s) {', '.join(unknown)}; available: {', '.join(KNOWN_VENUES)}"
        )
    return venues


SECMASTER_SYNC_INTERVAL_S = 3
"""Seconds between the secmaster's syncs in a local mesh: a market created at a simulator is
subscribed within seconds (production syncs every few minutes)."""


def plan_mesh(
    *,
    data_dir: Path,
    venues: tuple[str, ...],
    env_token: str,
    nats_url: str,
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/ssmd",
    valkey_url: str | None = None,
) -> MeshPlan:
    """The services to start once the servers are up (their URLs are already known).

    Order matters: simulators first (the connectors connect to them), then connectors,
    the archiver and the gateway. Each service reads only ``SSMD_*`` settings.
    """
    plan = MeshPlan(data_dir=data_dir.absolute(), env_token=env_token, venues=venues)
    common = {"SSMD_RUNTIME_ENV": env_token, "SSMD_BUS_URLS": nats_url}
    simulators: dict[str, dict[str, str]] = {}
    for venue in venues:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        ws_path, rest_path = VENUE_PATHS[venue]
        simulators[venue] = {
            "ws": f"ws://127.0.0.1:{port}{ws_path}",
            "rest": f"{base}{rest_path}",
            "control": f"{base}/control",
        }
        plan.services.append(
            ServicePlan(
                name=f"simulator-{venue}",
                module="ssmd.simulator",
                env={**common, "SSMD_SIMULATOR_PORT": str(port), "SSMD_SIMULATOR_VENUE": venue},
            )
        )
    secmaster_port = free_port()
    secmaster_env = {
        **common,
        "SSMD_DB_DSN": postgres_dsn,
        "SSMD_SECMASTER_VENUES": ",".join(venues),
        "SSMD_SECMASTER_PORT": str(secmaster_port),
        "SSMD_SECMASTER_SYNC_INTERVAL_S": str(SECMASTER_SYNC_INTERVAL_S),
    }
    if valkey_url is not None:
        secmaster_env["SSMD_SECMASTER_CACHE_URL"] = valkey_url
    rest_settings = {
        "kalshi": "SSMD_SECMASTER_KALSHI_REST_URL",
        "kraken_futures": "SSMD_SECMASTER_KRAKEN_FUTURES_REST_URL",
        "polymarket": "SSMD_SECMASTER_POLYMARKET_CLOB_URL",
    }
    for venue in venues:
        secmaster_env[rest_settings[venue]] = simulators[venue]["rest"]
        if venue == polymarket.VENUE:
            secmaster_env["SSMD_SECMASTER_POLYMARKET_GAMMA_URL"] = (
                simulators[venue]["rest"] + "/gamma"
            )
    plan.services.append(ServicePlan(name="secmaster", module="ssmd.secmaster", env=secmaster_env))
    for venue in venues:
        plan.services.append(
            ServicePlan(
                name=f"connector-{venue}",
                module="ssmd.connector",
                env={
                    **common,
                    "SSMD_CONNECTOR_VENUE": venue,
                    "SSMD_CONNECTOR_WS_URL": simulators[venue]["ws"],
                    "SSMD_CONNECTOR_REST_URL": simulators[venue]["rest"],
                    "SSMD_CONNECTOR_FOLLOW_SECMASTER": "true",
                },
            )
        )
    plan.services.append(
        ServicePlan(
            name="archiver",
            module="ssmd.archiver",
            env={
                **common,
                "SSMD_ARCHIVER_ARCHIVE_DIR": str(plan.archive_dir),
                "SSMD_ARCHIVER_VENUES": ",".join(venues),
            },
        )
    )
    gateway_port = free_port()
    plan.services.append(
        ServicePlan(
            name="gateway",
            module="ssmd.gateway",
            env={
                **common,
                "SSMD_GATEWAY_PORT": str(gateway_port),
                "SSMD_GATEWAY_ARCHIVE_DIR": str(plan.archive_dir),
                "SSMD_GATEWAY_VENUES": ",".join(venues),
            },
        )
    )
    plan.endpoints["simulators"] = simulators
    secmaster_url = f"http://127.0.0.1:{secmaster_port}"
    plan.endpoints["secmaster"] = {
        "url": secmaster_url,
        "markets": f"{secmaster_url}/v1/markets",
        "docs": f"{secmaster_url}/docs",
    }
    plan.endpoints["gateway"] = {
        "url": f"http://127.0.0.1:{gateway_port}",
        "docs": f"http://127.0.0.1:{gateway_port}/docs",
        "trades": f"http://127.0.0.1:{gateway_port}/v1/trades",
        "feeds": f"http://127.0.0.1:{gateway_port}/v1/feeds",
    }
    plan.endpoints["archive_dir"] = str(plan.archive_dir)
    plan.endpoints["env"] = env_token
    return plan
