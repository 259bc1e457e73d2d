"""The committed proto/ is exactly what ssmd.contracts generates (CI fails on drift)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

COMMITTED = Path(__file__).resolve().parents[2] / "proto"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_committed_proto_matches_generator(tmp_path: Path) -> None:
    # A separate process runs the real entry point, as `make proto` does.
    subprocess.run(
        [sys.executable, "-m", "ssmd.contracts.proto", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    generated = _tree(tmp_path)
    committed = _tree(COMMITTED)
    assert sorted(committed) == sorted(generated), "files differ; run `make proto`"
    stale = [name for name in generated if committed[name] != generated[name]]
    assert not stale, f"out of date: {stale}; run `make proto`"
