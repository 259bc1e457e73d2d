"""ssmd.bus: the only code in ssmd that talks to NATS JetStream (and imports ``nats``).

- `connect(settings) -> Bus`: one reconnecting connection; `Bus.ready()` for /readyz.
- `provision(bus, streams, consumers, kvs)`: idempotent, declarative JetStream set-up.
- `Publisher`: pipelined, deduplicated (``Nats-Msg-Id``) publishing with bounded in-flight.
- `DurableConsumer`: pull consumer, ack after the handler, nak with backoff, dead letters.
- `BatchConsumer`: the same, a batch at a time: all acked after the batch handler returns.
- `OrderedTail`: ordered, ephemeral read-only view from a time or last-per-subject.
- `RequestServer` / `request`: core-NATS request/reply for control messages.

Errors raised are `ssmd.core.errors` types (plus `PublishError` and `NotFoundError`
here); nats-py's exceptions never escape. Metrics are ``ssmd_bus_*``.
"""

from ssmd.bus.batch import BatchConsumer, BatchHandler, Rejected
from ssmd.bus.connection import Bus, connect
from ssmd.bus.consumer import DurableConsumer
from ssmd.bus.errors import (
    NotFoundError,
    PermanentPublishError,
    PublishError,
    PublishFailure,
    TemporaryPublishError,
)
from ssmd.bus.message import (
    DLQ_CONSUMER,
    DLQ_DELIVERIES,
    DLQ_MSG_ID,
    DLQ_REASON,
    DLQ_SEQ,
    DLQ_STREAM,
    DLQ_SUBJECT,
    MSG_ID_HEADER,
    Handler,
    Message,
    PublishAck,
)
from ssmd.bus.provisioning import (
    Change,
    ConsumerSpec,
    KvSpec,
    ProvisionReport,
    StreamSpec,
    provision,
)
from ssmd.bus.publisher import EncodingPublisher, Publisher, publish_one
from ssmd.bus.requests import RequestHandler, RequestServer, request
from ssmd.bus.settings import BusSettings
from ssmd.bus.tail import OrderedTail, TailStart, TailStats

__all__ = [
    "DLQ_CONSUMER",
    "DLQ_DELIVERIES",
    "DLQ_MSG_ID",
    "DLQ_REASON",
    "DLQ_SEQ",
    "DLQ_STREAM",
    "DLQ_SUBJECT",
    "MSG_ID_HEADER",
    "BatchConsumer",
    "BatchHandler",
    "Bus",
    "BusSettings",
    "Change",
    "ConsumerSpec",
    "DurableConsumer",
    "EncodingPublisher",
    "Handler",
    "KvSpec",
    "Message",
    "NotFoundError",
    "OrderedTail",
    "PermanentPublishError",
    "ProvisionReport",
    "PublishAck",
    "PublishError",
    "PublishFailure",
    "Publisher",
    "Rejected",
    "RequestHandler",
    "RequestServer",
    "StreamSpec",
    "TailStart",
    "TailStats",
    "TemporaryPublishError",
    "connect",
    "provision",
    "publish_one",
    "request",
]
