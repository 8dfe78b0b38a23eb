from decimal import Decimal

import pytest

from affiliate_bridge.domain.money import Money, minor_unit_exponent, proportion
from affiliate_bridge.errors import CurrencyError


@pytest.mark.parametrize(
    ("currency", "minor", "major"),
    [
        ("usd", 1999, Decimal("19.99")),
        ("EUR", 5, Decimal("0.05")),
        ("jpy", 500, Decimal("500")),
        ("KRW", 12000, Decimal("12000")),
        ("kwd", 1234, Decimal("1.234")),
        ("BHD", 5, Decimal("0.005")),
        ("gbp", 0, Decimal("0")),
    ],
)
def test_to_major_respects_currency_exponent(currency: str, minor: int, major: Decimal) -> None:
    assert Money(minor, currency).to_major() == major


def test_currency_is_upper_cased_and_validated() -> None:
    assert Money(1, "usd").currency == "USD"
    with pytest.raises(CurrencyError):
        Money(1, "dollars")
    with pytest.raises(CurrencyError):
        Money(1, None)  # type: ignore[arg-type]


def test_amount_must_be_an_integer() -> None:
    with pytest.raises(TypeError):
        Money(19.99, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "USD")


def test_exponents() -> None:
    assert [minor_unit_exponent(c) for c in ("USD", "JPY", "KWD", "HUF")] == [2, 0, 3, 2]


@pytest.mark.parametrize(
    ("amount", "kept", "paid", "expected"),
    [
        (1000, 1200, 1200, 1000),  # nothing refunded
        (1000, 600, 1200, 500),  # half kept
        (1000, 0, 1200, 0),  # all refunded
        (1000, -50, 1200, 0),  # over-refunded never goes negative
        (999, 1, 3, 333),  # rounds down
        (1000, 1300, 1200, 1000),  # never more than the whole
        (1000, 10, 0, 0),  # nothing paid
    ],
)
def test_proportion(amount: int, kept: int, paid: int, expected: int) -> None:
    assert proportion(amount, kept, paid) == expected
