"""A Polymarket market's lifecycle: its states, the moves between them, and their messages.

States: ``open`` (trading, ``acceptingOrders`` true) -> ``paused`` (``acceptingOrders``
false, no trading and no book change) -> ``open`` again -> ``closed`` (``closed`` true, no
trading) -> ``determined`` (the UMA proposal: Gamma ``umaResolutionStatus`` ``proposed``)
-> ``settled`` (resolved: tokens' ``winner`` set, prices 1 and 0). Only creation and
settlement are announced on the market channel, to custom-feature connections: a
``new_market`` and a ``market_resolved`` message (shapes of
``rust_test_data/ws_market_new_market_msg.json`` and ``ws_market_resolved_msg.json``);
pausing, closing and the proposal show only in REST, as on the venue.

``determine`` and ``settle`` close a market that is still trading first (a resolution ends
trading); ``settle`` takes the request's result, else the determined one, else ``yes``.

The automatic walk (`walk_action`) moves a market one step: open -> pause (once) -> open
-> close -> determine -> settle; the exchange then lists a replacement market
(`replacement_slug`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssmd.simulator.polymarket import frames
from ssmd.simulator.polymarket.catalog import TAGS, Listing
from ssmd.simulator.polymarket.markets import TICK_SIZE, Leg
from ssmd.venues.polymarket.config import NO, YES

if TYPE_CHECKING:
    from ssmd.simulator.venue import LifecycleAction


def parse_result(text: str | None) -> Leg | None:
    """``yes``/``no`` (any case) or None; ValueError otherwise."""
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered == "yes":
        return "yes"
    if lowered == "no":
        return "no"
    raise ValueError(f"result must be 'yes' or 'no', not {text!r}")


def transition(listing: Listing, action: LifecycleAction, result: str | None, now_ms: int) -> None:
    """Move `listing` (ValueError naming why it cannot); ``create`` is the exchange's."""
    requested = parse_result(result)
    status, slug = listing.status, listing.ids.slug
    if action == "create":
        raise ValueError(f"market {slug!r} is listed already")
    if status == "settled":
        raise ValueError(f"market {slug!r} is settled")
    if action == "pause":
        if status != "open":
            raise ValueError(f"market {slug!r} is {status}, not open: it cannot pause")
        listing.status, listing.paused_once = "paused", True
    elif action == "open":
        if status != "paused":
            raise ValueError(f"market {slug!r} is {status}, not paused: it cannot open")
        listing.status = "open"
    elif action == "close":
        if listing.closed:
            raise ValueError(f"market {slug!r} is {status} already")
        _close(listing, now_ms)
    elif action == "determine":
        if status == "determined":
            raise ValueError(f"market {slug!r} is determined already")
        _close(listing, now_ms)
        listing.status, listing.result = "determined", requested or "yes"
    else:  # settle
        _close(listing, now_ms)
        listing.result = requested or listing.result or "yes"
        listing.status = "settled"


def _close(listing: Listing, now_ms: int) -> None:
    if not listing.closed:
        listing.status, listing.closed_ms = "closed", now_ms


def walk_action(listing: Listing) -> LifecycleAction:
    """The automatic walk's next move for a market that is not settled."""
    status = listing.status
    if status == "open":
        return "close" if listing.paused_once else "pause"
    if status == "paused":
        return "open"
    if status == "closed":
        return "determine"
    return "settle"


def replacement_slug(root_slug: str, generation: int) -> str:
    """The slug of the market that replaces a settled one."""
    return f"{root_slug}-r{generation}"


def new_market_message(listing: Listing, ts_ms: int) -> bytes:
    ids = listing.ids
    tokens = list(ids.token_ids)
    return frames.encode(
        frames.NewMarketMsg(
            id=listing.gamma_id,
            question=listing.question,
            market=ids.condition_id,
            slug=ids.slug,
            description=listing.description,
            assets_ids=tokens,
            outcomes=[YES, NO],
            event_message=frames.EventMessage(
                id=listing.event_id,
                ticker=ids.slug,
                slug=ids.slug,
                title=listing.question,
                description=listing.description,
            ),
            timestamp=str(ts_ms),
            tags=list(TAGS),
            condition_id=ids.condition_id,
            active=True,
            clob_token_ids=tokens,
            order_price_min_tick_size=TICK_SIZE,
            group_item_title=listing.question,
        )
    )


def market_resolved_message(listing: Listing, ts_ms: int) -> bytes:
    ids = listing.ids
    yes_won = listing.result == "yes"
    return frames.encode(
        frames.MarketResolvedMsg(
            id=listing.gamma_id,
            market=ids.condition_id,
            assets_ids=list(ids.token_ids),
            winning_asset_id=ids.yes_token_id if yes_won else ids.no_token_id,
            winning_outcome=YES if yes_won else NO,
            timestamp=str(ts_ms),
            tags=list(TAGS),
        )
    )
