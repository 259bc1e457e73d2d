"""Capture files: cryptofeed lines and our JSONL, exact bytes and exact times."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmd.venues.capture import (
    CaptureFormatError,
    capture_format,
    parse_cryptofeed_line,
    read_capture,
    read_jsonl_capture,
    seconds_text_to_ns,
    write_jsonl_capture,
)

pytestmark = pytest.mark.unit

WS_CAPTURE = "cryptofeed/KRAKEN_FUTURES.ws.1.0.ws_capture.txt"
REST_CAPTURE = "cryptofeed/KRAKEN_FUTURES.0.rest_capture.txt"


def test_seconds_become_nanoseconds_exactly() -> None:
    assert seconds_text_to_ns("1626994927.6892228") == 1626994927_689222800
    assert seconds_text_to_ns("1626994927") == 1626994927_000000000
    assert seconds_text_to_ns(b"1.1234567891234") == 1_123456789
    with pytest.raises(ValueError, match="not a Unix time"):
        seconds_text_to_ns("1e9")


def test_each_kind_of_cryptofeed_line_is_recognized() -> None:
    incoming = parse_cryptofeed_line(b'1626994927.583642: {"event":"info","version":1}', 7)
    assert (incoming.line_no, incoming.direction, incoming.ts_ns) == (7, "in", 1626994927583642000)
    assert incoming.frame == b'{"event":"info","version":1}'
    out = parse_cryptofeed_line(b"wss://h/ws/v1 <- 1.5: {}", 1)
    assert (out.direction, out.url, out.ts_ns, out.frame) == (
        "out",
        "wss://h/ws/v1",
        1_500_000_000,
        b"{}",
    )
    connect = parse_cryptofeed_line(b"wss://h/ws/v1 <-> 2.25", 1)
    assert (connect.direction, connect.ts_ns, connect.frame) == ("connect", 2_250_000_000, b"")
    rest = parse_cryptofeed_line(b'https://h/x -> 3: {"a": 1}', 1)
    assert (rest.direction, rest.frame) == ("response", b'{"a": 1}')
    meta = parse_cryptofeed_line(b'configuration: {"l2_book": []}', 2)
    assert (meta.direction, meta.frame) == ("meta", b'{"l2_book": []}')


@pytest.mark.parametrize("line", [b"garbage", b"wss://h <=> 1: {}", b"12x: {}", b"wss://h <- nope"])
def test_bad_cryptofeed_lines_name_their_line(line: bytes) -> None:
    with pytest.raises(CaptureFormatError, match="line 9"):
        parse_cryptofeed_line(line, 9)


def test_real_ws_capture_reads_byte_for_byte(kraken_dir: Path) -> None:
    path = kraken_dir / WS_CAPTURE
    records = list(read_capture(path))
    raw_lines = path.read_bytes().splitlines()
    assert capture_format(path) == "cryptofeed"
    assert len(records) == len(raw_lines) == 7179
    directions = [r.direction for r in records]
    assert directions.count("connect") == 1
    assert directions.count("out") == 3
    assert directions.count("in") == 7175
    for record in records:
        if record.direction == "in":
            assert raw_lines[record.line_no - 1].endswith(b": " + record.frame)
    times = [r.ts_ns for r in records if r.direction == "in"]
    assert times == sorted(times)


def test_rest_capture_has_the_instruments_answer(kraken_dir: Path) -> None:
    records = list(read_capture(kraken_dir / REST_CAPTURE))
    assert [r.direction for r in records] == ["response", "meta"]
    assert records[0].url == "https://futures.kraken.com/derivatives/api/v3/instruments"
    assert records[0].frame.startswith(b'{"result":"success","instruments":[')


def test_jsonl_capture_round_trips_frames_exactly(tmp_path: Path, kraken_dir: Path) -> None:
    source = [r for r in read_capture(kraken_dir / WS_CAPTURE) if r.direction == "in"][:500]
    source_pairs = [(r.ts_ns, r.frame) for r in source]
    path = tmp_path / "capture.jsonl"
    assert write_jsonl_capture(path, source_pairs) == 500
    assert capture_format(path) == "jsonl"
    again = list(read_capture(path))
    assert [(r.ts_ns, r.frame) for r in again] == source_pairs
    assert {r.direction for r in again} == {"in"}
    assert again[0].line_no == 1


def test_jsonl_capture_rejects_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"ts_ns": 1, "frame": "{}"}\n{"ts_ns": "x", "frame": "{}"}\n')
    with pytest.raises(CaptureFormatError, match="line 2"):
        list(read_jsonl_capture(path))
