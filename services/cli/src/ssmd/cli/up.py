"""`ssmd up`: the whole mesh on one machine, on embedded servers, until Ctrl-C or --duration.

Starts nats-server (JetStream, file storage), PostgreSQL and Valkey from their wheels on
free loopback ports under ``<data-dir>``, then the simulators and services as supervised
child processes; prints the URLs and writes them to ``<data-dir>/endpoints.json``. Ctrl-C,
SIGTERM or the end of ``--duration`` stops everything in reverse order and exits 0; a child
that keeps crashing stops the mesh with exit 1. No process outlives the command.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from ssmd.cli.mesh import MeshPlan, plan_mesh
from ssmd.cli.supervisor import MeshFailedError, Supervisor
from ssmd.embedded import NatsServer, PostgresServer, ServerError, ServiceProcess, ValkeyServer

log = logging.getLogger(__name__)

_POLL_S = 0.5


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    venues: tuple[str, ...]
    env_token: str
    duration_s: float | None


def _install_stop_handlers(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping the mesh", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _print_endpoints(plan: MeshPlan, path: Path, out: TextIO) -> None:
    endpoints = plan.endpoints
    out.write("ssmd mesh is up:\n")
    out.write(f"  NATS        {endpoints['nats']['url']}  (nats sub 'md.>' -s ...)\n")
    out.write(f"  PostgreSQL  {endpoints['postgres']['dsn']}\n")
    out.write(f"  Valkey      {endpoints['valkey']['url']}\n")
    for venue, urls in endpoints["simulators"].items():
        out.write(f"  simulator   {venue}: {urls['ws']}\n")
    gateway = endpoints["gateway"]
    out.write(f"  gateway     {gateway['url']}  (API docs {gateway['docs']})\n")
    out.write(f"  secmaster   {endpoints['secmaster']['url']}  (ssmd markets search ...)\n")
    for name, admin in endpoints["admin"].items():
        out.write(f"  admin       {name}: {admin}/metrics\n")
    out.write(f"  archive     {endpoints['archive_dir']}\n")
    out.write(f"endpoints written to {path}\n")
    out.flush()


def run_up(options: UpOptions, *, out: TextIO = sys.stdout) -> int:
    """Run the mesh; returns the process exit code."""
    stop = threading.Event()
    _install_stop_handlers(stop)
    data_dir = options.data_dir.absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor()
    code = 0
    try:
        nats = supervisor.start("nats-server", NatsServer(data_dir / "nats")).process
        postgres = supervisor.start("postgres", PostgresServer(data_dir / "postgres")).process
        valkey = supervisor.start("valkey", ValkeyServer(data_dir / "valkey")).process
        assert isinstance(nats, NatsServer)
        assert isinstance(postgres, PostgresServer)
        assert isinstance(valkey, ValkeyServer)
        plan = plan_mesh(
            data_dir=data_dir,
            venues=options.venues,
            env_token=options.env_token,
            nats_url=nats.url,
            postgres_dsn=postgres.dsn,
            valkey_url=valkey.url,
        )
        plan.endpoints["nats"] = {"url": nats.url, "monitor": nats.monitor_url}
        plan.endpoints["postgres"] = {"dsn": postgres.dsn}
        plan.endpoints["valkey"] = {"url": valkey.url}
        admin: dict[str, str] = {}
        for service in plan.services:
            if stop.is_set():
                break
            process = ServiceProcess(
                service.module,
                data_dir / "services" / service.name,
                env=service.env,
                wait_ready=service.wait_ready,
                name=service.name,
            )
            supervisor.start(service.name, process)
            admin[service.name] = process.admin_url
        plan.endpoints["admin"] = admin
        if not stop.is_set():
            _print_endpoints(plan, plan.write_endpoints(), out)
        deadline = None if options.duration_s is None else time.monotonic() + options.duration_s
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                log.info("--duration reached: stopping the mesh")
                break
            supervisor.poll()
            stop.wait(_POLL_S)
    except MeshFailedError as exc:
        log.error("%s", exc)
        code = 1
    except ServerError as exc:
        log.error("could not start the mesh: %s", exc)
        code = 1
    finally:
        failed = supervisor.stop_all()
        if failed:
            log.error("did not stop cleanly: %s", ", ".join(failed))
            code = code or 1
    out.write("ssmd mesh stopped\n" if code == 0 else "ssmd mesh stopped with errors\n")
    return code
