"""Kalshi handshake authentication, server side: verifying ``KALSHI-ACCESS-*`` headers.

The client signs ``timestamp_ms + "GET" + path`` (the WebSocket path, no query) with RSA-PSS
over SHA-256, MGF1(SHA-256), salt length 32, and sends the base64 signature with its key id
and the timestamp (VENUES.md 1.2). Here:

* no header at all: an unsigned connection (public channels only);
* some headers but not all three: refused, naming the missing ones;
* a public key configured: the timestamp must be within ``max_age_s`` of the clock and the
  signature must verify, or the handshake is refused;
* no public key configured: a complete header set is taken as signed, unverified.

A refusal is HTTP 401 with Kalshi's ``ErrorResponse`` JSON (code, message, details, service).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ssmd.core.errors import ConfigError
from ssmd.venues.kalshi.config import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP

_HEADERS: Final = (HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE)
_NS_PER_MS: Final = 1_000_000
_SALT_BYTES: Final = 32


class ErrorResponse(msgspec.Struct, frozen=True):
    """Kalshi's REST error body (K-OPENAPI ``ErrorResponse``)."""

    code: str
    message: str
    details: str = ""
    service: str = "trade-api"


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    """A handshake's verdict: signed or not, or refused with a reason (and a detail)."""

    signed: bool
    refusal: str | None = None
    detail: str = ""

    def error_body(self) -> bytes:
        assert self.refusal is not None
        return msgspec.json.encode(
            ErrorResponse("authentication_error", self.refusal, details=self.detail)
        )


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    """The RSA public key in PEM file `path`; `ConfigError` naming the setting if it is not
    one (or cannot be read)."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"kalshi_public_key_path {path}: not a readable PEM public key ({exc})",
            fields=("kalshi_public_key_path",),
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigError(
            f"kalshi_public_key_path {path} does not hold an RSA public key",
            fields=("kalshi_public_key_path",),
        )
    return key


class HandshakeVerifier:
    """Checks the authentication headers of a WebSocket upgrade; see module doc."""

    def __init__(self, public_key: rsa.RSAPublicKey | None, max_age_s: float) -> None:
        self._key = public_key
        self._max_age_ns = round(max_age_s * 1e9)

    def check(self, headers: Mapping[str, str], method: str, path: str, now_ns: int) -> AuthOutcome:
        present = [name for name in _HEADERS if name in headers]
        if not present:
            return AuthOutcome(signed=False)
        missing = [name for name in _HEADERS if name not in headers]
        if missing:
            return AuthOutcome(False, f"missing header {', '.join(missing)}", ",".join(missing))
        if self._key is None:
            return AuthOutcome(signed=True)
        return self._verify(headers, f"{method}{path}", now_ns)

    def _verify(self, headers: Mapping[str, str], method_path: str, now_ns: int) -> AuthOutcome:
        timestamp = headers[HEADER_TIMESTAMP]
        if not timestamp.isdigit():
            return AuthOutcome(False, "invalid timestamp: not Unix milliseconds", HEADER_TIMESTAMP)
        skew_ns = abs(int(timestamp) * _NS_PER_MS - now_ns)
        if skew_ns > self._max_age_ns:
            window_s = self._max_age_ns / 1e9
            return AuthOutcome(
                False,
                f"timestamp expired: outside the {window_s:g} s window",
                HEADER_TIMESTAMP,
            )
        if not self._verifies(headers[HEADER_SIGNATURE], f"{timestamp}{method_path}".encode()):
            return AuthOutcome(False, "invalid signature", HEADER_SIGNATURE)
        return AuthOutcome(signed=True)

    def _verifies(self, signature_b64: str, message: bytes) -> bool:
        assert self._key is not None
        try:
            signature = base64.b64decode(signature_b64, validate=True)
            self._key.verify(
                signature,
                message,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=_SALT_BYTES),
                hashes.SHA256(),
            )
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True
