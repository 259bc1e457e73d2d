"""Exact number text: JSON numbers become canonical plain decimals without binary floats."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmd.venues.numbers import (
    decimal_text,
    number_text,
    parse_decimal,
    plain_decimal,
    scaled_int_text,
)

pytestmark = pytest.mark.unit

PLAIN = re.compile(r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?$")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-6.2604214e-11", "-0.000000000062604214"),
        ("-1.380384722222e-6", "-0.000001380384722222"),
        ("34969.5", "34969.5"),
        ("15000", "15000"),
        ("21987.0", "21987"),
        ("-0.0", "0"),
        ("-0", "0"),
        ("0", "0"),
        ("1e-10", "0.0000000001"),
        ("1.5E+4", "15000"),
        ("1.50e-1", "0.15"),
        ("21979.68641534714", "21979.68641534714"),
        ("75000000.0", "75000000"),
        ("1E400", "1" + "0" * 400),
    ],
)
def test_json_number_becomes_exact_plain_decimal(text: str, expected: str) -> None:
    assert plain_decimal(text) == expected
    assert number_text(text.encode()) == expected


@pytest.mark.parametrize(
    "text", ['"1.5"', "NaN", "Infinity", "+1", ".5", "1.", "01", "1e", "", "null", "1e401", "0x10"]
)
def test_text_that_is_not_a_json_number_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a JSON number|out of range"):
        plain_decimal(text)


def test_non_ascii_bytes_are_rejected() -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        number_text("\uff11".encode())  # FULLWIDTH DIGIT ONE


finite_decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: abs(d.adjusted()) < 300
)


def _json_forms(value: Decimal) -> list[str]:
    """Texts a venue could send for `value`: plain, exponent, with trailing zeros."""
    plain = format(value, "f")
    sign, digits, exponent = value.as_tuple()
    mantissa = "".join(map(str, digits)) or "0"
    assert isinstance(exponent, int)
    scientific = f"{'-' if sign else ''}{mantissa[0]}"
    if len(mantissa) > 1:
        scientific += "." + mantissa[1:]
    scientific += f"e{exponent + len(mantissa) - 1}"
    forms = [plain, scientific, scientific.upper()]
    if "." in plain:
        forms.append(plain + "000")
    return forms


@given(finite_decimals)
def test_any_decimal_text_becomes_an_exact_canonical_string(value: Decimal) -> None:
    for text in _json_forms(value):
        if re.fullmatch(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", text) is None:
            continue  # not JSON grammar (e.g. a mantissa with leading zeros): out of scope
        result = plain_decimal(text)
        assert PLAIN.fullmatch(result), (text, result)
        assert Decimal(result) == value, (text, result)


@given(finite_decimals)
def test_decimal_text_round_trips_and_is_canonical(value: Decimal) -> None:
    text = decimal_text(value)
    assert PLAIN.fullmatch(text)
    assert parse_decimal(text) == value
    assert decimal_text(parse_decimal(text)) == text


@given(st.integers(min_value=-(10**30), max_value=10**30), st.integers(min_value=-5, max_value=20))
def test_scaled_integers_print_exactly(units: int, decimals: int) -> None:
    text = scaled_int_text(units, decimals)
    assert PLAIN.fullmatch(text)
    assert Decimal(text) == Decimal(f"{units}e{-decimals}")  # exact: no context rounding


def test_decimal_text_rejects_non_finite_values() -> None:
    with pytest.raises(ValueError, match="finite"):
        decimal_text(Decimal("NaN"))
    with pytest.raises(ValueError, match="finite"):
        parse_decimal("Infinity")
    with pytest.raises(ValueError, match="not a decimal"):
        parse_decimal("abc")
