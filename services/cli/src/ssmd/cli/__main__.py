"""The `ssmd` command: ``ssmd up`` runs the whole mesh locally (``make demo``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssmd.cli import markets
from ssmd.cli.mesh import KNOWN_VENUES, parse_venues
from ssmd.cli.up import UpOptions, run_up
from ssmd.core.logging import configure_logging


def _duration(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssmd", description="ssmd market-data mesh")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "up",
        help="run the whole mesh on embedded servers against the venue simulators",
        description="Start nats-server, PostgreSQL, Valkey, the venue simulators and every "
        "service; print the URLs and write them to <data-dir>/endpoints.json. Ctrl-C stops.",
    )
    up.add_argument(
        "--venues",
        default=",".join(KNOWN_VENUES),
        help=f"comma-separated venues (default: {','.join(KNOWN_VENUES)})",
    )
    up.add_argument("--data-dir", type=Path, default=Path(".ssmd"), help="where everything is kept")
    up.add_argument(
        "--duration", type=_duration, default=None, help="stop after SECONDS (default: run)"
    )
    up.add_argument("--env", default="dev", help="environment token in subjects (default dev)")
    markets.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    configure_logging("ssmd", fmt="text")
    if args.command == "up":
        try:
            venues = parse_venues(args.venues)
        except ValueError as exc:
            sys.stderr.write(f"ssmd up: {exc}\n")
            raise SystemExit(2) from None
        options = UpOptions(
            data_dir=args.data_dir, venues=venues, env_token=args.env, duration_s=args.duration
        )
        raise SystemExit(run_up(options))
    if args.command == "markets":
        raise SystemExit(markets.run(args))


if __name__ == "__main__":
    main()
