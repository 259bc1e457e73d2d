"""Kalshi signing: signatures verify with the public key (checked here with `cryptography`,
RSA-PSS SHA-256, MGF1 SHA-256, salt 32), the query string is not signed, the headers are
there, and no key material shows in reprs or errors."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ssmd.venues.kalshi import config
from ssmd.venues.kalshi.auth import (
    KalshiCredentials,
    auth_headers,
    load_private_key,
    sign,
    ws_auth_headers,
)

pytestmark = pytest.mark.unit

NOW_MS = 1_703_123_456_789
KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(private_key: rsa.RSAPrivateKey, tmp_path: Path) -> Path:
    path = tmp_path / "kalshi.pem"
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return path


def _verify(key: rsa.RSAPrivateKey, signature_b64: str, message: str) -> None:
    """Raise InvalidSignature unless `signature_b64` signs `message` as Kalshi checks it."""
    key.public_key().verify(
        base64.b64decode(signature_b64, validate=True),
        message.encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_rest_signature_verifies_with_the_public_key(private_key: rsa.RSAPrivateKey) -> None:
    signature = sign(private_key, NOW_MS, "post", "/trade-api/v2/portfolio/orders")
    _verify(private_key, signature, f"{NOW_MS}POST/trade-api/v2/portfolio/orders")


def test_ws_upgrade_signature_verifies(private_key: rsa.RSAPrivateKey) -> None:
    headers = ws_auth_headers(KalshiCredentials(KEY_ID, private_key), NOW_MS)
    _verify(private_key, headers[config.HEADER_SIGNATURE], f"{NOW_MS}GET/trade-api/ws/v2")


def test_query_string_is_not_signed(private_key: rsa.RSAPrivateKey) -> None:
    signature = sign(private_key, NOW_MS, "GET", "/trade-api/v2/markets?limit=5&cursor=abc")
    _verify(private_key, signature, f"{NOW_MS}GET/trade-api/v2/markets")
    with pytest.raises(InvalidSignature):
        _verify(private_key, signature, f"{NOW_MS}GET/trade-api/v2/markets?limit=5&cursor=abc")


def test_a_full_url_signs_its_path(private_key: rsa.RSAPrivateKey) -> None:
    url = "https://demo-api.kalshi.co/trade-api/v2/markets/KX-1/orderbook?depth=3"
    _verify(
        private_key, sign(private_key, 5, "GET", url), "5GET/trade-api/v2/markets/KX-1/orderbook"
    )


def test_a_signature_is_for_its_own_timestamp_and_method(private_key: rsa.RSAPrivateKey) -> None:
    signature = sign(private_key, NOW_MS, "GET", "/trade-api/v2/markets")
    with pytest.raises(InvalidSignature):
        _verify(private_key, signature, f"{NOW_MS + 1}GET/trade-api/v2/markets")
    with pytest.raises(InvalidSignature):
        _verify(private_key, signature, f"{NOW_MS}POST/trade-api/v2/markets")


def test_headers_are_the_three_kalshi_access_headers(private_key: rsa.RSAPrivateKey) -> None:
    headers = auth_headers(
        KalshiCredentials(KEY_ID, private_key), "GET", "/trade-api/v2/series", NOW_MS
    )
    assert set(headers) == {
        "KALSHI-ACCESS-KEY",
        "KALSHI-ACCESS-TIMESTAMP",
        "KALSHI-ACCESS-SIGNATURE",
    }
    assert headers[config.HEADER_KEY] == KEY_ID
    assert headers[config.HEADER_TIMESTAMP] == "1703123456789"  # Unix ms, decimal text
    _verify(private_key, headers[config.HEADER_SIGNATURE], f"{NOW_MS}GET/trade-api/v2/series")


def test_credentials_repr_hides_the_key(private_key: rsa.RSAPrivateKey, key_file: Path) -> None:
    credentials = KalshiCredentials.from_file(KEY_ID, key_file)
    pem = key_file.read_text()
    body = "".join(pem.splitlines()[1:-1])
    for shown in (repr(credentials), str(credentials), f"{credentials}"):
        assert KEY_ID in shown
        assert "redacted" in shown
        assert "PRIVATE" not in shown
        assert body[:40] not in shown
        assert "RSAPrivateKey" not in shown


def test_loaded_key_signs_like_the_original(private_key: rsa.RSAPrivateKey, key_file: Path) -> None:
    loaded = load_private_key(key_file)
    _verify(private_key, sign(loaded, 1, "GET", "/x"), "1GET/x")


def test_missing_key_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ValueError, match=r"nope\.pem"):
        load_private_key(missing)


def test_a_file_that_is_not_a_pem_key_names_the_path_not_the_content(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text(
        "-----BEGIN RSA PRIVATE KEY-----\nSECRETMATERIAL\n-----END RSA PRIVATE KEY-----\n"
    )
    with pytest.raises(ValueError, match=r"bad\.pem") as caught:
        load_private_key(bad)
    assert "SECRETMATERIAL" not in str(caught.value)


def test_an_ec_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValueError, match="not an RSA private key"):
        load_private_key(path)


def test_an_encrypted_key_is_refused(private_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "locked.pem"
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    with pytest.raises(ValueError, match="password-protected"):
        load_private_key(path)


def test_empty_key_id_is_refused(private_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="key_id"):
        KalshiCredentials("", private_key)
