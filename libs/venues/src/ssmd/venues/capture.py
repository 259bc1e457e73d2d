"""Recorded venue traffic: reading cryptofeed captures, reading and writing our JSONL.

Two formats, one record type (`CaptureRecord`: line number, direction, time in ns, raw
bytes exactly as they crossed the wire):

* **cryptofeed** (``sample_data/`` of bmoscon/cryptofeed), one record per line:
  ``<ts>: <frame>`` an incoming frame; ``<url> <- <ts>: <frame>`` an outgoing request;
  ``<url> <-> <ts>`` a connection opened; ``<url> -> <ts>: <body>`` a REST answer;
  ``configuration: {...}`` the recorder's settings. ``<ts>`` is Unix seconds with a
  fraction, converted to ns exactly (no float).
* **JSONL** (ours, for the simulator's replay and for tests): one object per line,
  ``{"ts_ns": <int>, "frame": "<raw frame text>"}``, optionally ``"direction"`` (default
  ``"in"``). Written by `write_jsonl_capture`.

`read_capture` tells the formats apart by the first non-blank line. Readers stream the file
line by line (bounded memory) and raise `CaptureFormatError` naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import msgspec

from ssmd.core.errors import BadInputError

Direction = Literal["in", "out", "connect", "response", "meta"]
_TS_RE: Final = re.compile(rb"^([0-9]+)(?:\.([0-9]+))?$")
_NS_DIGITS: Final = 9
_ARROWS: Final[dict[bytes, Direction]] = {b"<-": "out", b"->": "response"}


class CaptureFormatError(BadInputError):
    """A capture file line does not follow its format."""


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    """One recorded frame. `frame` is the exact bytes; `url` is set where the line names it."""

    line_no: int
    direction: Direction
    ts_ns: int
    frame: bytes
    url: str | None = None


class _JsonlLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    ts_ns: int
    frame: str
    direction: Direction = "in"


_JSONL_DECODER: Final = msgspec.json.Decoder(_JsonlLine)
_JSONL_ENCODER: Final = msgspec.json.Encoder()


def seconds_text_to_ns(text: bytes | str) -> int:
    """Unix nanoseconds of ``"1626994927.6892228"``, exactly (extra digits truncated)."""
    raw = text.encode() if isinstance(text, str) else text
    match = _TS_RE.match(raw)
    if match is None:
        raise ValueError(f"not a Unix time in seconds: {raw[:40]!r}")
    whole, fraction = match.group(1), match.group(2) or b""
    fraction = fraction[:_NS_DIGITS].ljust(_NS_DIGITS, b"0")
    return int(whole) * 1_000_000_000 + int(fraction)


def parse_cryptofeed_line(line: bytes, line_no: int) -> CaptureRecord:
    """One line (without its newline) of a cryptofeed capture."""
    try:
        if line[:1].isdigit():
            ts, frame = line.split(b": ", 1)
            return CaptureRecord(line_no, "in", seconds_text_to_ns(ts), frame)
        if line.startswith(b"configuration: "):
            return CaptureRecord(line_no, "meta", 0, line[len(b"configuration: ") :])
        url, arrow, rest = line.split(b" ", 2)
        if arrow == b"<->":
            return CaptureRecord(line_no, "connect", seconds_text_to_ns(rest), b"", url.decode())
        direction = _ARROWS.get(arrow)
        ts, frame = rest.split(b": ", 1)
        if direction is not None:
            return CaptureRecord(line_no, direction, seconds_text_to_ns(ts), frame, url.decode())
    except ValueError as exc:
        raise CaptureFormatError(f"line {line_no}: not a cryptofeed capture line: {exc}") from None
    raise CaptureFormatError(f"line {line_no}: unknown direction arrow in {line[:80]!r}")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            stripped = line.rstrip(b"\r\n")
            if stripped:
                yield line_no, stripped


def read_cryptofeed_capture(path: Path) -> Iterator[CaptureRecord]:
    """Every record of a cryptofeed capture file, in file order."""
    for line_no, line in _lines(path):
        yield parse_cryptofeed_line(line, line_no)


def read_jsonl_capture(path: Path) -> Iterator[CaptureRecord]:
    """Every record of a JSONL capture file, in file order."""
    for line_no, line in _lines(path):
        try:
            entry = _JSONL_DECODER.decode(line)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise CaptureFormatError(f"line {line_no}: not a JSONL capture line: {exc}") from None
        yield CaptureRecord(line_no, entry.direction, entry.ts_ns, entry.frame.encode())


def capture_format(path: Path) -> Literal["jsonl", "cryptofeed"]:
    """Which format `path` is in, from its first non-blank line."""
    for _, line in _lines(path):
        return "jsonl" if line.startswith(b'{"ts_ns"') else "cryptofeed"
    return "jsonl"


def read_capture(path: Path) -> Iterator[CaptureRecord]:
    """Every record of a capture file in either format."""
    if capture_format(path) == "jsonl":
        return read_jsonl_capture(path)
    return read_cryptofeed_capture(path)


def jsonl_line(ts_ns: int, frame: bytes | str, direction: Direction = "in") -> bytes:
    """One JSONL capture line (with its newline); the frame must be UTF-8 text."""
    text = frame.decode() if isinstance(frame, bytes | bytearray) else frame
    entry: dict[str, object] = {"ts_ns": ts_ns, "frame": text}
    if direction != "in":
        entry["direction"] = direction
    return _JSONL_ENCODER.encode(entry) + b"\n"


def write_jsonl_capture(path: Path, records: Iterable[tuple[int, bytes | str]]) -> int:
    """Write (ts_ns, frame) pairs as a JSONL capture of incoming frames; return the count."""
    count = 0
    with path.open("wb") as handle:
        for ts_ns, frame in records:
            handle.write(jsonl_line(ts_ns, frame))
            count += 1
    return count
