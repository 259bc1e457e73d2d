"""Reference records: round trip, validation, stable message ids."""

from __future__ import annotations

import pytest

from ssmd.contracts.events import ContractError
from ssmd.contracts.reference import (
    OutcomeToken,
    ReferenceRecord,
    decode_reference,
    encode_reference,
    reference_msg_id,
)

pytestmark = pytest.mark.unit


def _record(**changes: object) -> ReferenceRecord:
    values: dict[str, object] = {
        "change": "created",
        "market": "polymarket:0x" + "a" * 64,
        "venue": "polymarket",
        "symbol": "0x" + "a" * 64,
        "kind": "binary",
        "status": "open",
        "tokens": [OutcomeToken(token_id="1", outcome="Yes", is_yes=True)],
        "version": 1,
        "outbox_id": 7,
        "ts_ns": 1_700_000_000_000_000_000,
    }
    values.update(changes)
    return ReferenceRecord(**values)  # type: ignore[arg-type]


def test_a_record_round_trips() -> None:
    record = _record()
    assert decode_reference(encode_reference(record)) == record


def test_bad_records_are_contract_errors_naming_the_problem() -> None:
    with pytest.raises(ContractError, match="status"):
        decode_reference(encode_reference(_record()).replace(b'"open"', b'"trading"'))
    with pytest.raises(ContractError, match="does not belong"):
        decode_reference(
            encode_reference(_record()).replace(b'"venue":"polymarket"', b'"venue":"kalshi"')
        )
    with pytest.raises(ValueError, match="does not belong"):
        _record(venue="kalshi")


def test_message_ids_follow_the_outbox() -> None:
    assert reference_msg_id(42) == "sm-42"
    assert reference_msg_id(42) != reference_msg_id(43)
