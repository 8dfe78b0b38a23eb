"""The generated ISO 4217 table matches its source, and Money refuses what is not money."""

import iso4217
import pytest

from affiliate_bridge.domain.currencies import ISO_4217_MONEY
from affiliate_bridge.domain.money import MAX_AMOUNT_MINOR, Money, normalise_currency
from affiliate_bridge.errors import CurrencyError


def test_generated_table_matches_the_published_iso_4217_list() -> None:
    published = {code for code, row in iso4217.raw_table.items() if str(row.get("CcyMnrUnts", "")).isdigit()}
    assert published == ISO_4217_MONEY, "run scripts/generate-currencies"
    assert {"USD", "EUR", "JPY", "KWD", "XOF"} <= ISO_4217_MONEY


@pytest.mark.parametrize("code", ["usd", "EUR", "jpy", "Bhd"])
def test_real_currencies_in_any_case(code: str) -> None:
    assert normalise_currency(code) == code.upper()


@pytest.mark.parametrize(
    "code",
    ["ßßß", "XXX", "XTS", "XAU", "ABC", "us", "usdd", "usd ", "\uff35\uff33\uff24", "", None, 840, "u$d"],
)
def test_not_money(code: object) -> None:
    with pytest.raises(CurrencyError):
        normalise_currency(code)


def test_amount_within_int64() -> None:
    assert Money(MAX_AMOUNT_MINOR, "USD").amount_minor == MAX_AMOUNT_MINOR
    with pytest.raises(CurrencyError):
        Money(MAX_AMOUNT_MINOR + 1, "USD")
