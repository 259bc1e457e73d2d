"""`BusSettings`: how a service reaches NATS and how hard the bus pushes it.

Read from ``SSMD_BUS_*`` environment variables or the ``[bus]`` table of the settings
file. The defaults suit one service on a laptop or a pod next to a NATS cluster; the
publish window and pull batch were chosen by ``bench/bench_bus.py`` (see its docstring).
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, ValidationInfo, field_validator

from ssmd.core.settings import CommaSeparated, SsmdSettings


class BusSettings(SsmdSettings):
    """Connection, publishing and consuming settings of `ssmd.bus`."""

    section = "bus"

    urls: CommaSeparated = Field(
        ("nats://127.0.0.1:4222",),
        min_length=1,
        description=(
            "NATS server URLs, comma separated (nats://host:port). Default: the local "
            "server that `ssmd up` starts; in Kubernetes list every cluster member so a "
            "reconnect can pick another one."
        ),
    )
    name: str = Field(
        "ssmd",
        min_length=1,
        description=(
            "Connection name shown in the server's monitoring (/connz). Default 'ssmd'; "
            "services set their own name so an operator can tell connections apart."
        ),
    )
    connect_timeout_s: float = Field(
        2.0,
        gt=0,
        description=(
            "Seconds to wait for one TCP + CONNECT handshake. Default 2 s: a healthy "
            "server answers in milliseconds, so anything slower is better retried."
        ),
    )
    connect_deadline_s: float = Field(
        60.0,
        gt=0,
        description=(
            "Seconds the first connection keeps retrying before start-up fails with "
            "UnavailableError. Default 60 s: long enough for NATS to come up beside the "
            "service in a fresh cluster, short enough that a wrong URL fails the pod."
        ),
    )
    reconnect_initial_s: float = Field(
        0.1,
        gt=0,
        description=(
            "Seconds before the first reconnect attempt after a lost connection; later "
            "attempts back off exponentially with jitter. Default 0.1 s: a restarted "
            "server on the same address is usually back within a second."
        ),
    )
    reconnect_max_s: float = Field(
        5.0,
        gt=0,
        description=(
            "Cap, in seconds, of the reconnect backoff. Reconnecting never stops; the cap "
            "bounds how stale the bus can be once the server is back. Default 5 s."
        ),
    )
    reconnect_jitter: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "Fraction (0..1) of each reconnect delay that is randomised, so a fleet that "
            "lost the server together does not return in lock-step. Default 0.5."
        ),
    )
    reconnect_buffer_bytes: int = Field(
        8 * 1024 * 1024,
        gt=0,
        description=(
            "Bytes of outgoing data buffered while disconnected (and the size at which a "
            "connected client flushes early). Default 8 MiB: about 30k market events, "
            "which covers a server restart; past it publish raises UnavailableError."
        ),
    )
    ping_interval_s: int = Field(
        20,
        gt=0,
        description=(
            "Seconds between client PINGs. With max_outstanding_pings this bounds how "
            "long a silently dead connection goes unnoticed. Default 20 s."
        ),
    )
    max_outstanding_pings: int = Field(
        3,
        gt=0,
        description=(
            "Unanswered PINGs after which the connection is declared dead and "
            "re-established. Default 3 (about a minute at the default interval)."
        ),
    )
    request_timeout_s: float = Field(
        5.0,
        gt=0,
        description=(
            "Seconds to wait for a JetStream API answer (stream/consumer info, create, "
            "update, a single awaited publish). Default 5 s, nats-py's own default."
        ),
    )
    drain_timeout_s: int = Field(
        10,
        gt=0,
        description=(
            "Seconds `Bus.drain()` lets subscriptions and buffered publishes finish before "
            "closing. Default 10 s, well inside Kubernetes' 30 s termination grace."
        ),
    )
    publish_max_in_flight: int = Field(
        4096,
        gt=0,
        le=1_000_000,
        description=(
            "Messages a Publisher keeps sent but not yet acknowledged. More hides the "
            "round trip better but holds more in memory and replays more after a failure. "
            "Default 4096: bench/bench_bus.py --sweep is flat from ~1k to 16k on loopback "
            "(256 is ~20% slower); 4096 leaves room for a real network's longer round trip."
        ),
    )
    publish_ack_timeout_s: float = Field(
        10.0,
        gt=0,
        description=(
            "Seconds a published message may wait for its JetStream ack before it is "
            "counted failed (TemporaryError: publish it again, the msg id deduplicates). "
            "Default 10 s: far above a healthy ack (<5 ms), below any dedup window."
        ),
    )
    publish_retry_s: float = Field(
        90.0,
        ge=0,
        description=(
            "Seconds a message that failed temporarily (no ack, 5xx, JetStream restarting) "
            "keeps being re-sent with its msg id before it counts as failed; 0 = never "
            "re-send. Default 90 s: rides out a nats-server restart, and stays inside the "
            "streams' duplicate window (keep it longer than this) so a re-sent message whose "
            "original was stored is deduplicated."
        ),
    )
    consumer_batch_size: int = Field(
        512,
        gt=0,
        le=100_000,
        description=(
            "Messages asked for in one pull request; a consumer keeps at most twice this "
            "many received-but-unfinished. Default 512: large enough to amortise the pull "
            "round trip, small enough that a stopping consumer returns little."
        ),
    )
    consumer_expires_s: float = Field(
        10.0,
        gt=0,
        description=(
            "Seconds a pull request waits on the server for messages before expiring and "
            "being renewed. Default 10 s: idle consumers cost one request per 10 s."
        ),
    )
    consumer_heartbeat_s: float = Field(
        2.0,
        gt=0,
        description=(
            "Seconds between server heartbeats on an idle pull request; two missed ones "
            "make the consumer re-issue its pulls (a lost request is found in ~4 s). "
            "Default 2 s. Must be less than consumer_expires_s."
        ),
    )
    consumer_concurrency: int = Field(
        1,
        gt=0,
        le=10_000,
        description=(
            "Handler calls a consumer runs at once. Default 1: ordered processing; raise "
            "it for handlers that wait on I/O and do not care about order."
        ),
    )

    @classmethod
    def load_for(cls, connection_name: str, **overrides: Any) -> Self:
        """Load, naming the connection `connection_name` unless the settings name it.

        Services call this with their own name (``ssmd-archiver``, ``connector-<venue>-<k>``)
        so an operator tells connections apart in the server's /connz; ``SSMD_BUS_NAME``
        (or ``[bus] name``) still wins.
        """
        settings = cls.load(**overrides)
        if "name" in settings.model_fields_set:
            return settings
        return settings.model_copy(update={"name": connection_name})

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            scheme, sep, rest = url.partition("://")
            if not sep or scheme not in {"nats", "tls", "ws", "wss"} or not rest:
                raise ValueError(f"{url!r} is not a nats:// URL")
        return value

    @field_validator("reconnect_max_s")
    @classmethod
    def _cap_not_below_first_delay(cls, value: float, info: ValidationInfo) -> float:
        initial_s = info.data.get("reconnect_initial_s")
        if initial_s is not None and value < initial_s:
            raise ValueError(f"must be at least reconnect_initial_s ({initial_s})")
        return value

    @field_validator("consumer_heartbeat_s")
    @classmethod
    def _heartbeat_below_expiry(cls, value: float, info: ValidationInfo) -> float:
        # Checked as a field rule (not a model validator) so the error names this field.
        expires_s = info.data.get("consumer_expires_s")
        if expires_s is not None and value >= expires_s:
            raise ValueError(f"must be less than consumer_expires_s ({expires_s})")
        return value
