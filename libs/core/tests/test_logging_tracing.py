"""JSON logs carry extras and trace ids; trace context survives a trip through headers."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ssmd.core.logging import configure_logging, resolve_format
from ssmd.core.tracing import extract_context, inject_context, setup_tracing, tracer

pytestmark = pytest.mark.unit


@pytest.fixture
def restore_root_logger() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_log_line_has_service_extras_and_trace(restore_root_logger: object) -> None:
    stream = io.StringIO()
    setup_tracing("test-svc")
    configure_logging("test-svc", fmt="json", stream=stream)
    with tracer(__name__).start_as_current_span("work") as span:
        logging.getLogger("ssmd.test").info(
            "gap on %s", "PF_XBTUSD", extra={"venue": "kraken_futures"}
        )
        trace_id = f"{span.get_span_context().trace_id:032x}"
    record = json.loads(stream.getvalue().splitlines()[-1])
    assert record["msg"] == "gap on PF_XBTUSD"
    assert record["venue"] == "kraken_futures"
    assert record["service"] == "test-svc"
    assert record["level"] == "info"
    assert record["trace_id"] == trace_id


def test_auto_format_is_json_only_in_kubernetes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert resolve_format("auto") == "text"
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert resolve_format("auto") == "json"


def test_trace_context_round_trips_through_headers() -> None:
    exporter = InMemorySpanExporter()
    setup_tracing("test-svc", exporter=exporter)
    headers: dict[str, str] = {}
    with tracer(__name__).start_as_current_span("publish") as parent:
        inject_context(headers)
        parent_ctx = parent.get_span_context()
    assert headers["traceparent"].startswith("00-")
    remote = trace.get_current_span(extract_context(headers)).get_span_context()
    assert remote.trace_id == parent_ctx.trace_id
    assert remote.span_id == parent_ctx.span_id
    assert remote.is_remote


def test_missing_headers_give_an_empty_context() -> None:
    span = trace.get_current_span(extract_context(None))
    assert not span.get_span_context().is_valid


def test_start_logging_logs_effective_settings_once_with_secrets_masked(
    restore_root_logger: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pydantic import Field, SecretStr

    from ssmd.core.runtime import start_logging
    from ssmd.core.service_settings import RuntimeSettings
    from ssmd.core.settings import SsmdSettings

    class TokenSettings(SsmdSettings):
        section = "tokentest"
        api_token: SecretStr = Field(SecretStr(""), description="a secret")

    monkeypatch.setenv("SSMD_TOKENTEST_API_TOKEN", "hunter2")
    monkeypatch.setenv("SSMD_RUNTIME_LOG_FORMAT", "json")
    start_logging("demo", RuntimeSettings.load(), settings=TokenSettings.load())
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["msg"] == "starting"
    assert record["logger"] == "ssmd.demo"
    assert record["settings"] == {"api_token": "**********"}
    assert record["runtime"]["env"] == "dev"
    assert "hunter2" not in lines[0]
