"""Log set-up: JSON lines in Kubernetes, readable text locally.

`configure_logging` is called once by a service's ``__main__``. Format ``auto`` picks JSON
when running in a pod (``KUBERNETES_SERVICE_HOST`` is set) and text otherwise. JSON records
carry the service name, the active trace/span ids, and any ``extra={...}`` fields, so context
such as venue, market or order id is searchable without parsing messages.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any, Literal, TextIO

from opentelemetry import trace

LogFormat = Literal["auto", "json", "text"]

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line with stable keys first, then the record's extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        nanos = int((record.created - seconds) * 1e9)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"
        payload: dict[str, Any] = {
            "ts": stamp,
            "level": record.levelname.lower(),
            "logger": record.name,
            "service": self._service,
            "msg": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            payload["trace_id"] = f"{span.trace_id:032x}"
            payload["span_id"] = f"{span.span_id:016x}"
        payload.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        )
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines; extras appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{key}={value}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        ]
        return f"{line} [{' '.join(extras)}]" if extras else line


def resolve_format(fmt: LogFormat) -> Literal["json", "text"]:
    if fmt != "auto":
        return fmt
    return "json" if os.environ.get("KUBERNETES_SERVICE_HOST") else "text"


def configure_logging(
    service: str,
    *,
    fmt: LogFormat = "auto",
    level: str = "INFO",
    stream: TextIO | None = None,
) -> None:
    """Route the root logger to one handler in the chosen format (replacing earlier ones)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter: logging.Formatter = (
        JsonFormatter(service) if resolve_format(fmt) == "json" else TextFormatter()
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
