"""Validation of the lowercase name tokens (env, venue, service, account, ...) used in names.

Shared by `symbols` (market ids) and `subjects` (everything else) so both apply one rule.
"""

from __future__ import annotations

import re
from typing import Final

# Names are lowercase so that the uppercase stream names derived from them stay unambiguous.
NAME_PATTERN: Final = r"[a-z0-9_]+"
# The env has no '_' because stream names join env and venue with '_' (MD_<ENV>_<VENUE>):
# with '_' allowed, env "a_b" + venue "c" and env "a" + venue "b_c" would share a stream.
ENV_PATTERN: Final = r"[a-z0-9]+"

_NAME_RE: Final = re.compile(NAME_PATTERN)
_ENV_RE: Final = re.compile(ENV_PATTERN)


def check_name(kind: str, value: str) -> str:
    """Return `value` if it is a lowercase name token ([a-z0-9_]+), else raise ValueError."""
    if not isinstance(value, str) or _NAME_RE.fullmatch(value) is None:
        raise ValueError(f"{kind} must match {NAME_PATTERN}, got {value!r}")
    return value


def check_env(env: str) -> str:
    """Return `env` if it is a valid environment token ([a-z0-9]+), else raise ValueError."""
    if not isinstance(env, str) or _ENV_RE.fullmatch(env) is None:
        raise ValueError(
            f"env must match {ENV_PATTERN} (no '_': it separates stream name parts), got {env!r}"
        )
    return env
