"""Names of the NATS message headers that are part of the wire contract.

A dead letter is the original message, payload unchanged so it can be replayed, published
on ``dlq.<env>.<origin>`` with the reason and where it came from in the ``Ssmd-Dlq-*``
headers below. `ssmd.bus` writes them; anyone reading a DLQ with ``nats sub 'dlq.>'`` sees
them as they are named here.
"""

from __future__ import annotations

from typing import Final

MSG_ID: Final = "Nats-Msg-Id"
"""JetStream de-duplication id; for market events, `ssmd.contracts.events.event_msg_id`."""

DLQ_REASON: Final = "Ssmd-Dlq-Reason"
"""Why the message could not be processed (one line of text)."""

DLQ_SUBJECT: Final = "Ssmd-Dlq-Subject"
"""The subject the message was originally published on."""

DLQ_STREAM: Final = "Ssmd-Dlq-Stream"
"""The stream the message came from, when it came from one."""

DLQ_SEQ: Final = "Ssmd-Dlq-Seq"
"""The stream sequence of the original message, when it came from a stream."""

DLQ_DELIVERIES: Final = "Ssmd-Dlq-Deliveries"
"""How many times the message was delivered before it was given up."""

DLQ_CONSUMER: Final = "Ssmd-Dlq-Consumer"
"""The durable consumer that gave up on the message."""

DLQ_MSG_ID: Final = "Ssmd-Dlq-Msg-Id"
"""The original message's ``Nats-Msg-Id`` (the dead letter gets an id of its own)."""
