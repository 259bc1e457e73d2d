"""`RuntimeSettings`: what every service process shares (env, admin port, logs, drain).

Read from ``SSMD_RUNTIME_*`` (or ``[runtime]`` in the settings file). A service's own settings
live in its own section; this one is the same for all of them, so `ssmd up`, the Helm chart
and the operator set it the same way everywhere.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from ssmd.core.settings import SsmdSettings


class RuntimeSettings(SsmdSettings):
    """Process-level settings shared by every ssmd service."""

    section = "runtime"

    env: str = Field(
        "dev",
        description=(
            "Deployment environment token used in subject and stream names (md.<env>..., "
            "MD_<ENV>_<VENUE>): lowercase letters and digits. Default 'dev'."
        ),
    )
    admin_host: str = Field(
        "127.0.0.1",
        description=(
            "Interface the admin server (/healthz, /readyz, /metrics) binds. Default loopback; "
            "set 0.0.0.0 in a pod so the kubelet and Prometheus can reach it."
        ),
    )
    admin_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Admin server TCP port; 0 picks a free port (local runs). Default 0.",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description="Log format: json, text, or auto (json when in Kubernetes). Default auto.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest log level written. Default INFO."
    )
    drain_timeout_s: float = Field(
        30.0,
        gt=0,
        description=(
            "Seconds each shutdown step may take after SIGTERM before it is abandoned. "
            "Default 30 s, equal to Kubernetes' default termination grace period."
        ),
    )

    @field_validator("env")
    @classmethod
    def _env_token(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]+", value):
            raise ValueError("must be lowercase letters and digits only, e.g. 'dev' or 'prod1'")
        return value
