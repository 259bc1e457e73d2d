"""Exact decimal money and quantities. No binary float ever holds a price or an amount.

`Money` pairs an exact `Decimal` amount with a currency code and refuses arithmetic across
currencies. `to_decimal` is the one way text, ints and Decimals from the wire become exact
values; it rejects floats, NaN and infinities, so a float cannot sneak in through a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Self

from ssmd.core.errors import BadInputError

DecimalLike = Decimal | str | int


def to_decimal(value: DecimalLike) -> Decimal:
    """Exact Decimal from a wire string, int or Decimal; floats and non-finite values fail."""
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        kind = type(value).__name__
        raise BadInputError(f"expected a decimal string, int or Decimal, got {kind}")
    try:
        result = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise BadInputError(f"not a decimal number: {value!r}") from None
    if not result.is_finite():
        raise BadInputError(f"not a finite number: {value!r}")
    return result


def quantize(value: Decimal, increment: Decimal) -> Decimal:
    """Round `value` to a multiple of `increment` (a tick or lot size), half to even."""
    if increment <= 0:
        raise ValueError("increment must be positive")
    with localcontext() as ctx:
        ctx.prec = 50
        steps = (value / increment).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return (steps * increment).quantize(increment)


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An exact amount of one currency (ISO code or venue asset, upper case)."""

    currency: str
    amount: Decimal

    def __post_init__(self) -> None:
        if not self.currency or self.currency != self.currency.upper():
            raise BadInputError(f"currency must be a non-empty upper-case code: {self.currency!r}")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise BadInputError(f"amount must be a finite Decimal, got {self.amount!r}")

    @classmethod
    def of(cls, amount: DecimalLike, currency: str) -> Self:
        return cls(currency=currency, amount=to_decimal(amount))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise BadInputError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.amount + other.amount)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.amount - other.amount)

    def __neg__(self) -> Money:
        return Money(self.currency, -self.amount)

    def times(self, factor: DecimalLike) -> Money:
        """This amount multiplied by an exact factor (a quantity, a rate)."""
        return Money(self.currency, self.amount * to_decimal(factor))

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
