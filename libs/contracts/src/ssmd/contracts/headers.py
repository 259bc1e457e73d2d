"""Names of the NATS message headers that are part of the wire contract.

A dead letter is the original message, payload unchanged so it can be replayed, published
on ``dlq.<env>.<origin>`` with the reason and where it came from in these headers.
"""

from __future__ import annotations

from typing import Final

MSG_ID: Final = "Nats-Msg-Id"
"""JetStream de-duplication id; for market events, `ssmd.contracts.events.event_msg_id`."""

DEAD_LETTER_REASON: Final = "Ssmd-Dead-Letter-Reason"
"""Why the message could not be processed (one line of text)."""

DEAD_LETTER_SUBJECT: Final = "Ssmd-Dead-Letter-Subject"
"""The subject the message was originally published on."""

DEAD_LETTER_STREAM_SEQ: Final = "Ssmd-Dead-Letter-Stream-Seq"
"""The stream sequence of the original message, when it came from a stream."""
