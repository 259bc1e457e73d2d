"""Kalshi request signing: the KALSHI-ACCESS-* headers of REST calls and the WS upgrade.

The string to sign is ``timestamp_ms + METHOD + path``, where path is the URL path with the
``/trade-api/v2`` (or ``/trade-api/ws/v2``) prefix and without the query string; the
signature is RSA-PSS over SHA-256 with MGF1(SHA-256) and a 32-byte salt (the digest length),
base64 with the standard alphabet (shared/VENUES.md 1.2). Only signing lives here: the
simulator verifies on its side. Key material never appears in a message, repr or log line.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from ssmd.venues.kalshi import config

SALT_LENGTH_BYTES: Final = 32
"""PSS salt length: the SHA-256 digest length, as Kalshi's SDK uses (RSA_PSS_SALTLEN_DIGEST)."""


def load_private_key(path: str | Path) -> RSAPrivateKey:
    """The unencrypted PEM RSA private key at `path`; ValueError naming the path otherwise."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(
            f"cannot read the Kalshi private key file {str(path)!r}: {exc.strerror}"
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # the key is encrypted
        raise ValueError(
            f"the Kalshi private key in {str(path)!r} is password-protected; "
            "an unencrypted PEM RSA private key is expected"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        # The library's message could quote the file; say only what is wrong.
        raise ValueError(f"{str(path)!r} does not hold a PEM RSA private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError(  # noqa: TRY004 - a bad file, not a bad argument: one error type
            f"{str(path)!r} holds a {type(key).__name__}, not an RSA private key"
        )
    return key


def sign(private_key: RSAPrivateKey, timestamp_ms: int, method: str, path: str) -> str:
    """Base64 RSA-PSS signature of ``timestamp_ms + METHOD + path`` (query string dropped).

    `path` may be a full URL; only its path is signed (``/trade-api/v2/markets``).
    """
    message = f"{timestamp_ms}{method.upper()}{_signed_path(path)}".encode()
    signature = private_key.sign(
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=SALT_LENGTH_BYTES),
        hashes.SHA256(),
    )
    return base64.b64encode(signature).decode("ascii")


def _signed_path(path: str) -> str:
    if "://" in path:
        return urlsplit(path).path
    return path.split("?", 1)[0]


class KalshiCredentials:
    """An API key id and its RSA private key; repr and str show the key id only."""

    __slots__ = ("key_id", "private_key")

    def __init__(self, key_id: str, private_key: RSAPrivateKey) -> None:
        if not key_id:
            raise ValueError("key_id is empty")
        self.key_id = key_id
        self.private_key = private_key

    @classmethod
    def from_file(cls, key_id: str, private_key_path: str | Path) -> KalshiCredentials:
        """Credentials with the key read by `load_private_key`."""
        return cls(key_id, load_private_key(private_key_path))

    def __repr__(self) -> str:
        return f"KalshiCredentials(key_id={self.key_id!r}, private_key=<redacted>)"

    __str__ = __repr__


def auth_headers(
    credentials: KalshiCredentials, method: str, path: str, now_ms: int
) -> dict[str, str]:
    """The three KALSHI-ACCESS-* headers of one request signed at `now_ms` (Unix ms)."""
    return {
        config.HEADER_KEY: credentials.key_id,
        config.HEADER_TIMESTAMP: str(now_ms),
        config.HEADER_SIGNATURE: sign(credentials.private_key, now_ms, method, path),
    }


def ws_auth_headers(credentials: KalshiCredentials, now_ms: int) -> dict[str, str]:
    """The headers of the WebSocket upgrade: ``GET`` of config.WS_PATH."""
    return auth_headers(credentials, "GET", config.WS_PATH, now_ms)
