"""`ssmd up` pieces: venue parsing, the mesh plan, and supervision of real processes."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from ssmd.cli.mesh import KNOWN_VENUES, parse_venues, plan_mesh
from ssmd.cli.supervisor import MeshFailedError, Supervisor
from ssmd.embedded import ServerProcess


class _Sleeper(ServerProcess):
    """A real process that is ready at once and lives `seconds`."""

    name = "sleeper"

    def __init__(self, data_dir: Path, seconds: float) -> None:
        super().__init__(data_dir, port=0, startup_timeout_s=5, stop_timeout_s=5)
        self.seconds = seconds
        self.starts = 0

    def _command(self) -> list[str]:
        self.starts += 1
        return [sys.executable, "-c", f"import time; time.sleep({self.seconds})"]

    def _is_ready(self) -> bool:
        return True


@pytest.mark.unit
def test_parse_venues_dedupes_and_names_unknown_ones() -> None:
    assert parse_venues("kraken_futures, kraken_futures") == ("kraken_futures",)
    with pytest.raises(ValueError, match=r"unknown venue.*nasdaq"):
        parse_venues("kraken_futures,nasdaq")
    with pytest.raises(ValueError, match="at least one"):
        parse_venues(" , ")


@pytest.mark.unit
def test_plan_wires_every_service_to_the_same_bus_and_archive(tmp_path: Path) -> None:
    plan = plan_mesh(
        data_dir=tmp_path, venues=("kraken_futures",), env_token="dev", nats_url="nats://x:1"
    )
    modules = [service.module for service in plan.services]
    assert modules == [
        "ssmd.simulator",
        "ssmd.secmaster",
        "ssmd.connector",
        "ssmd.archiver",
        "ssmd.gateway",
    ]
    assert {service.env["SSMD_BUS_URLS"] for service in plan.services} == {"nats://x:1"}
    secmaster, connector, archiver, gateway = plan.services[1:]
    assert archiver.env["SSMD_ARCHIVER_ARCHIVE_DIR"] == gateway.env["SSMD_GATEWAY_ARCHIVE_DIR"]
    assert connector.env["SSMD_CONNECTOR_FOLLOW_SECMASTER"] == "true"
    assert (
        secmaster.env["SSMD_SECMASTER_KRAKEN_FUTURES_REST_URL"]
        == plan.endpoints["simulators"]["kraken_futures"]["rest"]
    )
    assert plan.endpoints["secmaster"]["url"].endswith(secmaster.env["SSMD_SECMASTER_PORT"])
    assert (
        connector.env["SSMD_CONNECTOR_WS_URL"]
        == plan.endpoints["simulators"]["kraken_futures"]["ws"]
    )
    plan.endpoints["nats"] = {"url": "nats://x:1"}
    written = json.loads(plan.write_endpoints().read_text())
    assert written["gateway"]["trades"].endswith("/v1/trades")


@pytest.mark.system
def test_supervisor_restarts_a_crashed_child_then_gives_up(tmp_path: Path) -> None:
    clock = [0.0]
    supervisor = Supervisor(clock=lambda: clock[0])
    child = supervisor.start("sleeper", _Sleeper(tmp_path, 0.0), max_restarts=2)
    process = child.process
    assert isinstance(process, _Sleeper)
    try:
        for _ in range(2):
            _wait_until_dead(process)
            supervisor.poll()  # schedules the restart
            clock[0] += 60
            supervisor.poll()  # performs it
        assert process.starts == 3
        _wait_until_dead(process)
        with pytest.raises(MeshFailedError, match="sleeper died 3 times"):
            supervisor.poll()
    finally:
        supervisor.stop_all()


@pytest.mark.system
def test_stop_all_stops_children_newest_first(tmp_path: Path) -> None:
    supervisor = Supervisor()
    first = supervisor.start("first", _Sleeper(tmp_path / "a", 60)).process
    second = supervisor.start("second", _Sleeper(tmp_path / "b", 60)).process
    assert first.is_running
    assert second.is_running
    assert supervisor.stop_all() == []
    assert not first.is_running
    assert not second.is_running
    assert supervisor.children == ()


def _wait_until_dead(process: ServerProcess) -> None:
    deadline = time.monotonic() + 5
    while process.is_running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not process.is_running


@pytest.mark.unit
def test_plan_runs_every_venue_with_its_own_simulator_paths(tmp_path: Path) -> None:
    plan = plan_mesh(data_dir=tmp_path, venues=KNOWN_VENUES, env_token="dev", nats_url="nats://x:1")
    assert KNOWN_VENUES == ("kraken_futures", "kalshi", "polymarket")
    simulators = {
        s.env["SSMD_SIMULATOR_VENUE"]: s for s in plan.services if s.name.startswith("simulator-")
    }
    assert sorted(simulators) == sorted(KNOWN_VENUES)
    urls = plan.endpoints["simulators"]
    assert urls["kalshi"]["ws"].endswith("/trade-api/ws/v2")
    assert urls["kalshi"]["rest"].endswith("/trade-api/v2")
    assert urls["polymarket"]["ws"].endswith("/ws/market")
    assert urls["kraken_futures"]["rest"].endswith("/derivatives/api/v3")
    connectors = [s for s in plan.services if s.module == "ssmd.connector"]
    assert [c.env["SSMD_CONNECTOR_VENUE"] for c in connectors] == list(KNOWN_VENUES)
    for connector in connectors:
        venue = connector.env["SSMD_CONNECTOR_VENUE"]
        assert connector.env["SSMD_CONNECTOR_WS_URL"] == urls[venue]["ws"]
        port = urls[venue]["ws"].split(":")[2].split("/")[0]
        assert simulators[venue].env["SSMD_SIMULATOR_PORT"] == port
    archiver = next(s for s in plan.services if s.module == "ssmd.archiver")
    assert archiver.env["SSMD_ARCHIVER_VENUES"] == "kraken_futures,kalshi,polymarket"
