"""Errors every venue adapter raises at its boundary.

A frame that cannot be understood is `MalformedFrame`, a `BadInputError` (permanent: the
same bytes will never parse), carrying the bytes and a human reason so the connector can
put both on its dead-letter subject. A REST answer with an error code becomes
`VenueRejectedError` (permanent) or `VenueBusyError` (temporary), so callers decide retries
by type (`ssmd.core.errors.should_retry`), never by matching venue strings.
"""

from __future__ import annotations

from ssmd.core.errors import BadInputError, PermanentError, TemporaryError

_SHOWN_BYTES = 200


class MalformedFrame(BadInputError):  # noqa: N818 - the name says what it is, like BadInputError
    """A venue frame is not valid JSON, has an unknown shape, or wrong or missing fields."""

    def __init__(self, frame: bytes, reason: str) -> None:
        shown = frame[:_SHOWN_BYTES]
        more = b"..." if len(frame) > _SHOWN_BYTES else b""
        super().__init__(f"malformed frame: {reason}: {shown + more!r}")
        self.frame = frame
        self.reason = reason


class VenueRejectedError(PermanentError):
    """The venue answered a request with an error that retrying cannot fix."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"venue error {code!r}{': ' + message if message else ''}")
        self.code = code


class VenueBusyError(TemporaryError):
    """The venue answered with a transient error (rate limit, maintenance): retry later."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"venue busy {code!r}{': ' + message if message else ''}")
        self.code = code
