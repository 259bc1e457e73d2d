"""Where the shared venue fixtures (real and official venue payloads) are.

They live beside the repository, in ``<repo>/../shared/fixtures/venues``; the environment
variable ``SSMD_FIXTURES_DIR`` points elsewhere when they do. Tests, benchmarks and the
simulator's replay examples all find them through `venue_fixtures_dir`.
"""

from __future__ import annotations

import os
from pathlib import Path

FIXTURES_ENV = "SSMD_FIXTURES_DIR"
KRAKEN_WS_CAPTURE = "kraken_futures/cryptofeed/KRAKEN_FUTURES.ws.1.0.ws_capture.txt"
"""The 2021 Kraken Futures production WebSocket capture, relative to the fixtures dir."""

# libs/testing/src/ssmd/testing/fixtures.py -> the repository root is six levels up.
_REPO_ROOT = Path(__file__).resolve().parents[5]


def venue_fixtures_dir() -> Path:
    """The venue fixtures directory (``$SSMD_FIXTURES_DIR`` or ``<repo>/../shared/...``)."""
    override = os.environ.get(FIXTURES_ENV)
    return Path(override) if override else _REPO_ROOT.parent / "shared" / "fixtures" / "venues"


def venue_fixture(relative: str) -> Path:
    """One fixture file; a clear error naming the path and the variable when it is missing."""
    path = venue_fixtures_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(f"venue fixture not found at {path}; set {FIXTURES_ENV}")
    return path
