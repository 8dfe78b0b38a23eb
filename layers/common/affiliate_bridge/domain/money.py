"""Money as integer minor units plus an ISO 4217 code.

Floats never hold money inside the bridge: providers send integer minor units (Stripe) or
strings of them (Paddle), and the only conversion to major units happens at the edge, when
the affiliate API wants a decimal amount. The exponent tables follow Stripe's currency
guide, which is also how Paddle denominates its "lowest denomination" amounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from affiliate_bridge.domain.currencies import ISO_4217_MONEY
from affiliate_bridge.errors import CurrencyError

# Stripe's zero-decimal currencies: an amount of 500 JPY is sent as 500, not 50000.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
# Three-decimal currencies: 1.234 KWD is sent as 1234.
THREE_DECIMAL_CURRENCIES = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


# The largest amount any field may hold: a signed 64-bit integer, what the providers' own
# APIs and every store on the way (DynamoDB numbers, JSON readers in other languages) keep
# exactly. Anything larger in a payload is hostile, not a sale.
MAX_AMOUNT_MINOR = 2**63 - 1


def normalise_currency(code: object) -> str:
    """Providers disagree on case (Stripe lower, Paddle upper); inside we use upper case.

    Checked against the ISO 4217 table, not by shape: ``"ßßß".upper()`` is ``"SSSSSS"``
    and ``"XXX"`` is ISO's "no currency"; either would be accepted at the webhook and
    then fail in the forwarder, blocking its payment's queue group.
    """
    if not isinstance(code, str) or len(code) != 3 or not code.isascii():
        raise CurrencyError(f"not an ISO 4217 currency code: {code!r}")
    upper = code.upper()
    if upper not in ISO_4217_MONEY:
        raise CurrencyError(f"not an ISO 4217 currency code: {code!r}")
    return upper


def minor_unit_exponent(currency: str) -> int:
    """How many decimal places one major unit has in the providers' integer amounts."""
    code = normalise_currency(currency)
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


@dataclass(frozen=True)
class Money:
    """An exact amount: ``amount_minor`` in the currency's smallest unit."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError("amount_minor must be an int")
        if abs(self.amount_minor) > MAX_AMOUNT_MINOR:
            raise CurrencyError(f"amount {self.amount_minor} is beyond a 64-bit integer")
        object.__setattr__(self, "currency", normalise_currency(self.currency))

    def to_major(self) -> Decimal:
        """The amount in major units, exact (Decimal), for APIs that want ``99.99``."""
        return Decimal(self.amount_minor).scaleb(-minor_unit_exponent(self.currency))


def format_minor(amount_minor: int, currency: str) -> str:
    """``4900, "usd"`` -> ``49.00 USD``; ``4900, "jpy"`` -> ``4900 JPY``: for people
    (explain, the console, the terminal), never for an API. An unknown code is shown as
    given with the raw minor amount rather than raising in a report."""
    try:
        return f"{Money(amount_minor, currency).to_major():f} {normalise_currency(currency)}"
    except (CurrencyError, TypeError):
        return f"{amount_minor} {currency} (minor units)"


def proportion(amount_minor: int, kept_minor: int, paid_minor: int) -> int:
    """Scale ``amount_minor`` by kept/paid, rounding down to a whole minor unit.

    Used for partial refunds: the commissionable amount keeps the share of the money the
    merchant kept. Rounding down means a partner is never credited a fraction of a cent
    the merchant did not keep.
    """
    if paid_minor <= 0:
        return 0
    kept = min(max(kept_minor, 0), paid_minor)
    return (amount_minor * kept) // paid_minor
