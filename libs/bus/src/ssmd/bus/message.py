"""What travels on the bus: the headers ssmd sets, and the message and ack types.

`Message` is what a consumer's handler receives and `PublishAck` what a publisher reports;
neither is a nats-py object, so no code outside ssmd.bus handles nats types.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from opentelemetry import context as otel_context

# The header names are part of the wire contract, defined once in ssmd.contracts.
from ssmd.contracts.headers import (
    DLQ_CONSUMER,
    DLQ_DELIVERIES,
    DLQ_MSG_ID,
    DLQ_REASON,
    DLQ_SEQ,
    DLQ_STREAM,
    DLQ_SUBJECT,
)
from ssmd.contracts.headers import MSG_ID as MSG_ID_HEADER
from ssmd.core.errors import BadInputError
from ssmd.core.tracing import extract_context

__all__ = [
    "DLQ_CONSUMER",
    "DLQ_DELIVERIES",
    "DLQ_MSG_ID",
    "DLQ_REASON",
    "DLQ_SEQ",
    "DLQ_STREAM",
    "DLQ_SUBJECT",
    "MSG_ID_HEADER",
    "Handler",
    "Message",
    "PublishAck",
]


@dataclass(frozen=True, slots=True)
class PublishAck:
    """JetStream's receipt for one message: where it is stored, and whether it was a repeat."""

    msg_id: str
    subject: str
    stream: str
    seq: int
    duplicate: bool


class Message(NamedTuple):
    """One delivered message, as a handler sees it (immutable; cheaper than a dataclass)."""

    subject: str
    data: bytes
    headers: Mapping[str, str]
    msg_id: str | None
    stream: str
    consumer: str
    stream_seq: int
    consumer_seq: int
    num_delivered: int  # 1 on first delivery
    num_pending: int  # messages left in the consumer after this one
    timestamp_ns: int  # when the stream stored it

    @property
    def trace_context(self) -> otel_context.Context:
        """The publisher's trace context (also current while the handler runs)."""
        return extract_context(self.headers)


Handler = Callable[[Message], Awaitable[None]]


def parse_ack_subject(reply: str) -> tuple[str, str, int, int, int, int, int]:
    """(stream, consumer, delivered, stream seq, consumer seq, timestamp ns, pending)."""
    tokens = reply.split(".")
    if len(tokens) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
        at = 2
    elif len(tokens) >= 11:  # v2: $JS.ACK.<domain>.<account hash>.<stream>... [.<token>]
        at = 4
    else:
        raise BadInputError(f"not a JetStream ack subject: {reply!r}")
    try:
        return (
            tokens[at],
            tokens[at + 1],
            int(tokens[at + 2]),
            int(tokens[at + 3]),
            int(tokens[at + 4]),
            int(tokens[at + 5]),
            int(tokens[at + 6]),
        )
    except ValueError as exc:
        raise BadInputError(f"not a JetStream ack subject: {reply!r}") from exc
