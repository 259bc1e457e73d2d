"""Replay options and their control-API view, the same for every simulated venue.

`ReplayOptions` say how the replays that start next run (``POST /control/replay``);
`replay_state` is ``GET /control/replay``'s answer for a venue's capture and options;
`changed_options` applies a request, refusing it when the venue is not replaying.
"""

from __future__ import annotations

from collections.abc import Collection, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How the next replays run (changed through ``POST /control/replay``)."""

    speed: float = 1.0
    skip_lines: frozenset[int] = field(default_factory=frozenset)


class Capture(Protocol):
    """What the control API shows of a venue's capture file."""

    @property
    def path(self) -> Path: ...

    @property
    def frames(self) -> Sized: ...

    @property
    def products(self) -> Collection[str]: ...


def replay_state(source: Capture | None, options: ReplayOptions) -> dict[str, object]:
    """``{"enabled", "path", "frames", "products", "speed", "skip_lines"}``."""
    return {
        "enabled": source is not None,
        "path": str(source.path) if source else None,
        "frames": len(source.frames) if source else 0,
        "products": sorted(source.products) if source else [],
        "speed": options.speed,
        "skip_lines": sorted(options.skip_lines),
    }


def changed_options(
    source: Capture | None,
    current: ReplayOptions,
    speed: float | None,
    skip_lines: list[int] | None,
) -> ReplayOptions:
    """`current` with the given fields replaced (None keeps one); ValueError when the venue
    is not replaying or the speed is negative."""
    if source is None:
        raise ValueError("not in replay mode (start with --replay FILE or a replay_path)")
    if speed is not None and speed < 0:
        raise ValueError("speed must be >= 0")
    return ReplayOptions(
        speed=current.speed if speed is None else speed,
        skip_lines=current.skip_lines if skip_lines is None else frozenset(skip_lines),
    )
