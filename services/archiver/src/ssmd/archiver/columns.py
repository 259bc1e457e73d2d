"""Arrow schemas of the archived event types, and events turned into Arrow tables.

One schema per event type, derived from the `ssmd.contracts` struct so a new field is
archived without a change here (and the schema test shows it). Columns, in order:

* ``market``, ``ts_event``, ``ts_recv`` (``timestamp[ns]`` without time zone: naive UTC,
  which DuckDB's ``time_bucket`` accepts), then the other fields in declaration order;
* decimal strings stay strings (exact, as on the wire); optional fields are nullable;
  lists of structs (book levels and changes) are ``list<struct<...>>``;
* then ``ts_event_ns``, ``ts_recv_ns`` (int64, the exact integers), ``msg_id`` (the
  ``Nats-Msg-Id``) and ``stream_seq`` (uint64, the JetStream sequence).

Hive partition keys are not repeated inside files: ``venue`` is dropped (the ``venue=``
directory holds it), and `Gap`'s own ``channel`` field (the feed that lost data) is stored
as ``gap_channel`` because ``channel`` is the partition key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import accumulate, chain
from operator import attrgetter
from typing import Any, Final, TypeAlias

import msgspec.inspect as mi
import pyarrow as pa

from ssmd.contracts.events import (
    BookDelta,
    BookSnapshot,
    EventBase,
    FundingRate,
    Gap,
    MarketEvent,
    MarketStatus,
    Quote,
    Trade,
)

EVENT_TYPES: Final[tuple[type[EventBase], ...]] = (
    Trade,
    Quote,
    BookSnapshot,
    BookDelta,
    MarketStatus,
    FundingRate,
    Gap,
)
PARTITION_KEYS: Final = frozenset({"venue", "channel", "date", "hour"})
_DROPPED: Final = frozenset({"venue"})
_RENAMED: Final = {"channel": "gap_channel"}
_TIMESTAMPS: Final = {"ts_event_ns": "ts_event", "ts_recv_ns": "ts_recv"}
TIMESTAMP_TYPE: Final = pa.timestamp("ns")  # no tz: DuckDB rejects TIMESTAMPTZ_NS buckets

Column: TypeAlias = "Callable[[Sequence[Any]], pa.Array[Any]]"
"""Builds one column from the events of one type."""


def type_tag(cls: type[EventBase]) -> str:
    """The event's ``type`` tag (``trade``, ``book_delta``...), its ``channel=`` directory."""
    tag = cls.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


TYPE_TAGS: Final[dict[type[EventBase], str]] = {cls: type_tag(cls) for cls in EVENT_TYPES}


def _scalar_type(info: mi.Type) -> pa.DataType:
    if isinstance(info, mi.Metadata):
        return _scalar_type(info.type)
    if isinstance(info, mi.StrType | mi.LiteralType):
        return pa.string()
    if isinstance(info, mi.IntType):
        return pa.int64()
    if isinstance(info, mi.BoolType):
        return pa.bool_()
    if isinstance(info, mi.FloatType):
        return pa.float64()
    raise TypeError(f"no Arrow column type for {info!r}")


def _unwrap(info: mi.Type) -> tuple[mi.Type, bool]:
    """(the type without Metadata and None, whether None is allowed)."""
    if isinstance(info, mi.Metadata):
        return _unwrap(info.type)
    if isinstance(info, mi.UnionType):
        rest = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(rest) != 1:
            raise TypeError(f"no Arrow column type for the union {info!r}")
        inner, _ = _unwrap(rest[0])
        return inner, len(rest) != len(info.types)
    return info, False


def _list_of_structs(
    name: str, item: mi.StructType, nullable: bool
) -> tuple[pa.Field[Any], Column]:
    subfields = [
        pa.field(f.name, _scalar_type(_unwrap(f.type)[0]), nullable=_unwrap(f.type)[1])
        for f in item.fields
    ]
    struct_type = pa.struct(subfields)
    get_items = attrgetter(name)
    getters = [attrgetter(f.name) for f in item.fields]

    def build(events: Sequence[Any]) -> pa.Array[Any]:
        # map/chain/accumulate keep the per-level loops in C: books have many levels.
        lists = list(map(get_items, events))
        offsets = list(accumulate(map(len, lists), initial=0))
        flat = list(chain.from_iterable(lists))
        children = [
            pa.array(list(map(get, flat)), type=field.type)
            for get, field in zip(getters, subfields, strict=True)
        ]
        values = pa.StructArray.from_arrays(children, fields=subfields)
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)

    return pa.field(name, pa.list_(struct_type), nullable=nullable), build


def _plain(
    name: str, out_name: str, arrow_type: pa.DataType, nullable: bool
) -> tuple[pa.Field[Any], Column]:
    get = attrgetter(name)

    def build(events: Sequence[Any]) -> pa.Array[Any]:
        return pa.array(list(map(get, events)), type=arrow_type)

    return pa.field(out_name, arrow_type, nullable=nullable), build


def _timestamp(name: str, out_name: str) -> tuple[pa.Field[Any], Column]:
    get = attrgetter(name)

    def build(events: Sequence[Any]) -> pa.Array[Any]:
        return pa.array(list(map(get, events)), type=pa.int64()).cast(TIMESTAMP_TYPE)

    return pa.field(out_name, TIMESTAMP_TYPE, nullable=False), build


class EventColumns:
    """The schema of one event type and the builders of its event columns."""

    def __init__(self, cls: type[EventBase]) -> None:
        self.cls = cls
        self.tag = type_tag(cls)
        head: list[tuple[pa.Field[Any], Column]] = []
        body: list[tuple[pa.Field[Any], Column]] = []
        tail: list[tuple[pa.Field[Any], Column]] = []
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        for field in info.fields:
            if field.name in _DROPPED:
                continue
            inner, nullable = _unwrap(field.type)
            nullable = nullable or not field.required
            if field.name in _TIMESTAMPS:
                head.append(_timestamp(field.name, _TIMESTAMPS[field.name]))
                tail.append(_plain(field.name, field.name, pa.int64(), nullable))
            elif field.name == "market":
                head.insert(0, _plain(field.name, field.name, pa.string(), nullable))
            elif isinstance(inner, mi.ListType) and isinstance(inner.item_type, mi.StructType):
                body.append(_list_of_structs(field.name, inner.item_type, nullable))
            else:
                out_name = _RENAMED.get(field.name, field.name)
                body.append(_plain(field.name, out_name, _scalar_type(inner), nullable))
        columns = [*head, *body, *tail]
        self._builders = [build for _, build in columns]
        self.schema = pa.schema(
            [
                *(field for field, _ in columns),
                pa.field("msg_id", pa.string(), nullable=True),
                pa.field("stream_seq", pa.uint64(), nullable=False),
            ]
        )
        names = self.schema.names
        clash = PARTITION_KEYS.intersection(names)
        if clash or len(set(names)) != len(names):
            raise TypeError(f"{cls.__name__}: columns clash with partition keys {clash}")

    def table(
        self, events: Sequence[MarketEvent], msg_ids: Sequence[str | None], seqs: Sequence[int]
    ) -> pa.Table:
        """The Arrow table of `events` (all of this type), with their msg ids and seqs."""
        arrays = [build(events) for build in self._builders]
        arrays.append(pa.array(msg_ids, type=pa.string()))
        arrays.append(pa.array(seqs, type=pa.uint64()))
        return pa.Table.from_arrays(arrays, schema=self.schema)


def all_columns() -> dict[type[EventBase], EventColumns]:
    """The columns of every archived event type, by event class."""
    return {cls: EventColumns(cls) for cls in EVENT_TYPES}
