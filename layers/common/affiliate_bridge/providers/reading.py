"""Readers every provider's event parser shares: untrusted JSON in, domain values out.

Each raises ``MalformedEvent`` naming the field, so a signed event with a wrong shape is
answered 400 with a reason the provider's dashboard shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from affiliate_bridge.domain.events import EventRules
from affiliate_bridge.domain.money import Money
from affiliate_bridge.errors import CurrencyError, MalformedEvent


def nonempty_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def first_text(field: str, *sources: Any) -> str | None:
    """The first non-blank string under ``field`` in the given mappings (metadata, then
    the subscription's metadata, ...), stripped."""
    for source in sources:
        if isinstance(source, Mapping):
            value = source.get(field)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def money(amount: int, currency: Any, where: str) -> Money:
    try:
        return Money(amount, currency)
    except CurrencyError as exc:
        raise MalformedEvent(f"{where}: {exc}") from exc


def commissionable(paid: int, tax: int, rules: EventRules) -> int:
    """What commission is computed on: the amount paid, less its tax unless the merchant
    chose to include tax (COMMISSION_EXCLUDES_TAX=false)."""
    if not rules.commission_excludes_tax:
        return paid
    return max(paid - max(tax, 0), 0)
