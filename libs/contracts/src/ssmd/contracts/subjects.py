"""Every NATS subject, subject filter, JetStream stream, consumer and KV bucket name in ssmd.

No other code formats these names; services call the builders here. Builders validate what
they are given: env tokens are ``[a-z0-9]+``; venue, service, account and other name tokens
are ``[a-z0-9_]+``; shards are non-negative ints; venue symbols enter only through
`ssmd.contracts.symbols.encode_token`. So nothing from venue data or configuration can add a
separator or a wildcard to a subject.

Families (ARCHITECTURE §1); ``<market>`` is the encoded symbol of the market id:

==============================================  =================  ================
subject                                         stream             publisher
==============================================  =================  ================
md.<env>.<venue>.<channel>.<shard>.<market>     MD_<ENV>_<VENUE>   connector
raw.<env>.<venue>.<shard>                       RAW_<ENV>_<VENUE>  connector
ref.<venue>.<event>.<market>                    SECMASTER          secmaster
dlq.<env>.<origin...>                           DLQ_<ENV>          any service
oms.<env>.<account>.<intent|approved|rejected>  OMS_<ENV>          strategies, risk
orders.<env>.<account>                          ORDERS_<ENV>       oms
signal.<name>.<venue>.<market>                  (core NATS)        signal
dq.<env>.<venue>.<report>                       (core NATS)        dq
archive.<env>.<event>                           (core NATS)        archiver
tournament.<env>.<event>                        (core NATS)        tournament
ctl.<env>.connector.<venue>.<shard>             (core NATS req)    operators, tests
==============================================  =================  ================

Filters (`md_filter`, ...) take ``"*"`` for any token and collapse trailing wildcards into
``>``, so the widest filter of a stream is exactly that stream's subject pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ssmd.contracts._tokens import check_env, check_name
from ssmd.contracts.events import MD_CHANNELS
from ssmd.contracts.symbols import decode_token, encode_token, split_market_id
from ssmd.contracts.symbols import market_id as make_market_id

WILDCARD: Final = "*"
FULL_WILDCARD: Final = ">"
OmsKind = Literal["intent", "approved", "rejected"]
OMS_KINDS: Final[tuple[OmsKind, ...]] = ("intent", "approved", "rejected")


@dataclass(frozen=True, slots=True)
class StreamName:
    """A JetStream stream's name and the subjects it captures, ready to declare."""

    name: str
    subjects: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MdSubject:
    """The parts of one ``md.*`` subject, as `parse_md_subject` reads them."""

    env: str
    venue: str
    channel: str
    shard: int
    market_id: str


# -- validation helpers --------------------------------------------------------------------


def _shard(shard: int) -> str:
    if isinstance(shard, bool) or not isinstance(shard, int) or shard < 0:
        raise ValueError(f"shard must be an int >= 0, got {shard!r}")
    return str(shard)


def _channel(channel: str) -> str:
    if channel not in MD_CHANNELS:
        raise ValueError(f"channel must be one of {MD_CHANNELS}, got {channel!r}")
    return channel


def _market_token(venue: str, market: str) -> str:
    market_venue, symbol = split_market_id(market)
    if market_venue != venue:
        raise ValueError(f"market {market!r} does not belong to venue {venue!r}")
    return encode_token(symbol)


def _or_any(value: str, check: str) -> str:
    """`value` validated as a name token, or the wildcard."""
    return value if value == WILDCARD else check_name(check, value)


def _filter(root: str, *tokens: str) -> str:
    """Join tokens, collapsing a trailing run of wildcards into ``>``."""
    kept = list(tokens)
    while kept and kept[-1] == WILDCARD:
        kept.pop()
    tail = [FULL_WILDCARD] if len(kept) < len(tokens) else []
    return ".".join([root, *kept, *tail])


def _origin(origin: str) -> str:
    for part in origin.split("."):
        check_name("dead-letter origin token", part)
    return origin


# -- market data ---------------------------------------------------------------------------


def md_subject(env: str, venue: str, channel: str, shard: int, market_id: str) -> str:
    """``md.<env>.<venue>.<channel>.<shard>.<market token>`` for one normalized event."""
    check_env(env)
    check_name("venue", venue)
    token = _market_token(venue, market_id)
    return f"md.{env}.{venue}.{_channel(channel)}.{_shard(shard)}.{token}"


def md_filter(
    env: str,
    venue: str = WILDCARD,
    channel: str = WILDCARD,
    shard: int | Literal["*"] = WILDCARD,
    market_id: str | None = None,
) -> str:
    """A filter over ``md.<env>.>``; ``"*"`` matches any venue, channel or shard.

    With `market_id`, only that market (its venue fills a wildcard venue).
    """
    check_env(env)
    market = WILDCARD
    if market_id is not None:
        if venue == WILDCARD:
            venue = split_market_id(market_id)[0]
        market = _market_token(venue, market_id)
    venue = _or_any(venue, "venue")
    channel = channel if channel == WILDCARD else _channel(channel)
    shard_token = WILDCARD if shard == WILDCARD else _shard(shard)
    return _filter("md", env, venue, channel, shard_token, market)


def parse_md_subject(subject: str) -> MdSubject:
    """Read an ``md.*`` subject back into its parts; ValueError if it is not one."""
    parts = subject.split(".")
    if len(parts) != 6 or parts[0] != "md":
        raise ValueError(f"not a market-data subject: {subject!r}")
    _, env, venue, channel, shard, token = parts
    if not shard.isascii() or not shard.isdigit():
        raise ValueError(f"bad shard token in {subject!r}")
    parsed = MdSubject(
        env=check_env(env),
        venue=check_name("venue", venue),
        channel=_channel(channel),
        shard=int(shard),
        market_id=make_market_id(venue, decode_token(token)),
    )
    if md_subject(env, venue, channel, parsed.shard, parsed.market_id) != subject:
        raise ValueError(f"not a canonical market-data subject: {subject!r}")
    return parsed


def md_stream(env: str, venue: str) -> StreamName:
    """``MD_<ENV>_<VENUE>`` capturing ``md.<env>.<venue>.>``."""
    check_env(env)
    check_name("venue", venue)
    return StreamName(f"MD_{env.upper()}_{venue.upper()}", (f"md.{env}.{venue}.>",))


# -- raw frames ----------------------------------------------------------------------------


def raw_subject(env: str, venue: str, shard: int) -> str:
    """``raw.<env>.<venue>.<shard>``: raw venue frames of one connector shard."""
    check_env(env)
    check_name("venue", venue)
    return f"raw.{env}.{venue}.{_shard(shard)}"


def raw_filter(env: str, venue: str = WILDCARD, shard: int | Literal["*"] = WILDCARD) -> str:
    """A filter over ``raw.<env>.>``."""
    check_env(env)
    shard_token = WILDCARD if shard == WILDCARD else _shard(shard)
    return _filter("raw", env, _or_any(venue, "venue"), shard_token)


def raw_stream(env: str, venue: str) -> StreamName:
    """``RAW_<ENV>_<VENUE>`` capturing ``raw.<env>.<venue>.>``."""
    check_env(env)
    check_name("venue", venue)
    return StreamName(f"RAW_{env.upper()}_{venue.upper()}", (f"raw.{env}.{venue}.>",))


# -- reference data (secmaster) --------------------------------------------------------------

SECMASTER_STREAM: Final = StreamName("SECMASTER", ("ref.>",))


def ref_subject(venue: str, event: str, market_id: str) -> str:
    """``ref.<venue>.<event>.<market token>``: a secmaster change to one market."""
    check_name("venue", venue)
    check_name("reference event", event)
    return f"ref.{venue}.{event}.{_market_token(venue, market_id)}"


def ref_filter(venue: str = WILDCARD, event: str = WILDCARD) -> str:
    """A filter over ``ref.>``."""
    return _filter("ref", _or_any(venue, "venue"), _or_any(event, "reference event"))


# -- dead letters --------------------------------------------------------------------------


def dead_letter_subject(env: str, origin: str) -> str:
    """``dlq.<env>.<origin>``; origin is dotted name tokens, e.g. ``connector.kalshi``."""
    check_env(env)
    return f"dlq.{env}.{_origin(origin)}"


def dead_letter_stream(env: str) -> StreamName:
    """``DLQ_<ENV>`` capturing ``dlq.<env>.>``."""
    check_env(env)
    return StreamName(f"DLQ_{env.upper()}", (f"dlq.{env}.>",))


# -- control requests ----------------------------------------------------------------------


def connector_control_subject(env: str, venue: str, shard: int) -> str:
    """``ctl.<env>.connector.<venue>.<shard>``: requests to one connector shard
    (add or drop markets at runtime), answered over core NATS request/reply."""
    check_env(env)
    check_name("venue", venue)
    return f"ctl.{env}.connector.{venue}.{_shard(shard)}"


# -- signals -------------------------------------------------------------------------------


def signal_subject(name: str, venue: str, market_id: str) -> str:
    """``signal.<name>.<venue>.<market token>``: one signal's value for one market."""
    check_name("signal name", name)
    check_name("venue", venue)
    return f"signal.{name}.{venue}.{_market_token(venue, market_id)}"


def signal_filter(name: str = WILDCARD, venue: str = WILDCARD) -> str:
    """A filter over ``signal.>``."""
    return _filter("signal", _or_any(name, "signal name"), _or_any(venue, "venue"))


# -- order flow ----------------------------------------------------------------------------


def oms_subject(env: str, account: str, kind: OmsKind) -> str:
    """``oms.<env>.<account>.<kind>``: intents (strategies) and risk decisions on them."""
    check_env(env)
    check_name("account", account)
    if kind not in OMS_KINDS:
        raise ValueError(f"kind must be one of {OMS_KINDS}, got {kind!r}")
    return f"oms.{env}.{account}.{kind}"


def intent_subject(env: str, account: str) -> str:
    """``oms.<env>.<account>.intent``: order intents for risk to approve or reject."""
    return oms_subject(env, account, "intent")


def oms_filter(env: str, account: str = WILDCARD, kind: OmsKind | Literal["*"] = WILDCARD) -> str:
    """A filter over ``oms.<env>.>``, e.g. every account's approved intents."""
    check_env(env)
    if kind != WILDCARD and kind not in OMS_KINDS:
        raise ValueError(f"kind must be one of {OMS_KINDS} or '*', got {kind!r}")
    return _filter("oms", env, _or_any(account, "account"), kind)


def oms_stream(env: str) -> StreamName:
    """``OMS_<ENV>`` capturing ``oms.<env>.>`` (intents and decisions, durable)."""
    check_env(env)
    return StreamName(f"OMS_{env.upper()}", (f"oms.{env}.>",))


def order_event_subject(env: str, account: str) -> str:
    """``orders.<env>.<account>``: order lifecycle events published by the OMS."""
    check_env(env)
    check_name("account", account)
    return f"orders.{env}.{account}"


def orders_stream(env: str) -> StreamName:
    """``ORDERS_<ENV>`` capturing ``orders.<env>.>``."""
    check_env(env)
    return StreamName(f"ORDERS_{env.upper()}", (f"orders.{env}.>",))


# -- reports -------------------------------------------------------------------------------


def dq_subject(env: str, venue: str, report: str) -> str:
    """``dq.<env>.<venue>.<report>``: data-quality reports (match rate, gaps, freshness)."""
    check_env(env)
    check_name("venue", venue)
    return f"dq.{env}.{venue}.{check_name('dq report', report)}"


def archive_subject(env: str, event: str) -> str:
    """``archive.<env>.<event>``: archiver announcements (manifests, freshness)."""
    check_env(env)
    return f"archive.{env}.{check_name('archive event', event)}"


def tournament_subject(env: str, event: str) -> str:
    """``tournament.<env>.<event>``: tournament results."""
    check_env(env)
    return f"tournament.{env}.{check_name('tournament event', event)}"


# -- consumers and KV ----------------------------------------------------------------------


def durable_name(service: str, purpose: str, *qualifiers: str) -> str:
    """A durable consumer name ``<service>-<purpose>[-<qualifier>...]``.

    Parts are name tokens, which never contain '-', so distinct parts give distinct names.
    """
    parts = [check_name("service", service), check_name("purpose", purpose)]
    parts.extend(check_name("qualifier", qualifier) for qualifier in qualifiers)
    return "-".join(parts)


def risk_bucket(env: str) -> str:
    """KV bucket ``RISK_<ENV>``: limits, kill switch and exposure (owned by risk)."""
    return f"RISK_{check_env(env).upper()}"


def allocations_bucket(env: str) -> str:
    """KV bucket ``ALLOCATIONS_<ENV>``: strategy allocations (owned by tournament)."""
    return f"ALLOCATIONS_{check_env(env).upper()}"
