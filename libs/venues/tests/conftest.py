"""Where the shared venue fixtures are, for every test of ssmd.venues.

The fixtures live beside the repository (``<repo>/../shared/fixtures/venues``); the
environment variable ``SSMD_FIXTURES_DIR`` points elsewhere when they do. A test that asks
for ``kraken_fixture_file`` runs once per file under ``kraken_futures/``, so a file added
there cannot go unread.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmd.testing.fixtures import venue_fixtures_dir as fixtures_dir


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kraken_fixture_file" in metafunc.fixturenames:
        root = fixtures_dir() / "kraken_futures"
        files = sorted(path for path in root.rglob("*") if path.is_file())
        metafunc.parametrize(
            "kraken_fixture_file", files, ids=[str(p.relative_to(root)) for p in files]
        )


@pytest.fixture
def venue_fixtures() -> Path:
    path = fixtures_dir()
    if not path.is_dir():
        pytest.fail(f"venue fixtures not found at {path}; set SSMD_FIXTURES_DIR")
    return path


@pytest.fixture
def kraken_dir(venue_fixtures: Path) -> Path:
    return venue_fixtures / "kraken_futures"
