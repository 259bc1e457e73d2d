"""shard_of: the documented hash, known values, and stability across processes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.contracts.shard import shard_of

pytestmark = pytest.mark.unit

SHARD_COUNTS = (1, 2, 3, 8, 16, 1000)

# market id -> (first 8 digest bytes as hex, shard for each of SHARD_COUNTS). The hex is
# what `printf %s '<market id>' | sha256sum` prints first, so any language can check it.
KNOWN = {
    "kalshi:KXBTCD-25NOV21-T100000": ("b1e54ee1c30c9f05", (0, 1, 0, 5, 5, 285)),
    "kraken_futures:PF_XBTUSD": ("ffe19fa55464feea", (0, 0, 0, 2, 10, 506)),
    "polymarket:21742633143463906290569050155826241533067272736897614950488156847949938836455": (
        "6aab40347b641fc4",
        (0, 0, 0, 4, 4, 748),
    ),
    "kalshi:KXHIGHNY-25NOV21-B57.5": ("28e43eb8e557a10d", (0, 1, 2, 5, 13, 909)),
    "kalshi:": ("89cf629a5582fd19", (0, 1, 0, 1, 9, 489)),
    "venue:é ☃ 𝄞": ("e587320479bf1f0d", (0, 1, 0, 5, 13, 349)),
}


def reference_shard(market_id: str, shard_count: int) -> int:
    """The rule as the docstring states it, written independently of the implementation."""
    digest = hashlib.sha256(market_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], byteorder="big", signed=False) % shard_count


@pytest.mark.parametrize(("market_id", "known"), KNOWN.items())
def test_shard_of_matches_known_table(market_id: str, known: tuple[str, tuple[int, ...]]) -> None:
    prefix_hex, shards = known
    assert hashlib.sha256(market_id.encode("utf-8")).hexdigest()[:16] == prefix_hex
    for shard_count, expected in zip(SHARD_COUNTS, shards, strict=True):
        assert reference_shard(market_id, shard_count) == expected
        assert shard_of(market_id, shard_count) == expected


@given(market_id=st.text(), shard_count=st.integers(min_value=1, max_value=2**70))
def test_shard_of_agrees_with_reference_and_stays_in_range(
    market_id: str, shard_count: int
) -> None:
    shard = shard_of(market_id, shard_count)
    assert shard == reference_shard(market_id, shard_count)
    assert 0 <= shard < shard_count


@pytest.mark.parametrize("shard_count", [0, -1, -(2**64)])
def test_shard_of_rejects_counts_below_one(shard_count: int) -> None:
    with pytest.raises(ValueError, match="shard_count"):
        shard_of("kalshi:X", shard_count)


@pytest.mark.parametrize("shard_count", [True, 1.0, "8", None])
def test_shard_of_rejects_non_int_counts(shard_count: object) -> None:
    with pytest.raises(TypeError, match="shard_count"):
        shard_of("kalshi:X", shard_count)  # type: ignore[arg-type]


_CHILD = """
import json, sys
from ssmd.contracts.shard import shard_of
markets = json.loads(sys.argv[1])
counts = json.loads(sys.argv[2])
print(json.dumps({"hash": hash("salted by PYTHONHASHSEED"),
                  "shards": [[shard_of(m, n) for n in counts] for m in markets]}))
"""


def test_shard_of_is_stable_across_processes_and_hash_seeds() -> None:
    markets = list(KNOWN)
    expected = [[shard_of(m, n) for n in SHARD_COUNTS] for m in markets]
    builtin_hashes = set()
    for seed in ("0", "1", "4294967295", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(markets), json.dumps(SHARD_COUNTS)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        answer = json.loads(result.stdout)
        assert answer["shards"] == expected, f"PYTHONHASHSEED={seed}"
        builtin_hashes.add(answer["hash"])
    # Proves the seeds really changed process hashing, so the equality above means something.
    assert len(builtin_hashes) > 1
