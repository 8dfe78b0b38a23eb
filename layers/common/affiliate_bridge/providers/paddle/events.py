"""Paddle Billing notification -> Payment / Reversal / CustomerProfile / Ignored.

* Sale: ``transaction.completed`` and ``transaction.paid`` both name the transaction
  ``txn_...``; the key is ``paddle-<txn id>`` for both, so a merchant may enable either or
  both and one payment stays one transaction. Amounts are strings in the lowest
  denomination under ``details.totals``; the customer paid ``grand_total``, of which
  ``tax`` is excluded from commission by default.
* Reversal: ``adjustment.created`` / ``adjustment.updated`` count only when ``status`` is
  ``approved``. A ``refund`` reverses its own amount (each adjustment is one source, so
  several partial refunds add up); a ``chargeback`` is a lost dispute on the transaction,
  and a later approved ``chargeback_reverse`` wins it back.
* ``customer.created`` / ``customer.updated``: the customer's email, hashed, so payments
  by that customer id can be attributed by email.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from affiliate_bridge.domain.events import (
    CustomerProfile,
    CustomerRefs,
    DisputeStatus,
    EventRules,
    Ignored,
    NormalisedEvent,
    Payment,
    Reversal,
    ReversalReason,
    transaction_key,
)
from affiliate_bridge.errors import MalformedEvent
from affiliate_bridge.providers.reading import commissionable, first_text, money, nonempty_str

PROVIDER = "paddle"
SALE_EVENTS = frozenset({"transaction.completed", "transaction.paid"})
ADJUSTMENT_EVENTS = frozenset({"adjustment.created", "adjustment.updated"})
CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated"})
# What ``register`` subscribes a notification destination to (the README's list: one of
# the two sale events is enough, both keys are the same) and what backfill fetches.
REGISTERED_EVENTS = ("transaction.completed", *sorted(ADJUSTMENT_EVENTS), *sorted(CUSTOMER_EVENTS))
HANDLED_EVENTS = tuple(sorted(SALE_EVENTS | ADJUSTMENT_EVENTS | CUSTOMER_EVENTS))


# Paddle amounts are strings of ASCII digits in the lowest denomination. str.isdigit()
# would also pass "²" and Arabic-Indic digits (and int() reads the latter as a number).
_AMOUNT = re.compile(r"[0-9]{1,19}")


def _timestamp(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except (ValueError, OverflowError, OSError):
        return 0


def _amount(totals: Mapping[str, Any], field: str, *, required: bool = True) -> int:
    value = totals.get(field)
    if value is None and not required:
        return 0
    if isinstance(value, str) and _AMOUNT.fullmatch(value):
        return int(value)
    raise MalformedEvent(f"totals.{field} must be a string of ASCII digits (lowest denomination)")


def _id(data: Mapping[str, Any], field: str, prefix: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.startswith(prefix):
        raise MalformedEvent(f"data.{field} must be a Paddle id starting {prefix}")
    return value


def normalise_paddle_event(event: Mapping[str, Any], rules: EventRules) -> NormalisedEvent:
    event_id = event.get("event_id")
    event_type = event.get("event_type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) or not event_type:
        raise MalformedEvent("notification needs a string event_id and event_type")
    data = event.get("data")
    if not isinstance(data, Mapping):
        raise MalformedEvent("notification data must be an object")
    occurred_at = _timestamp(event.get("occurred_at"))

    def ignored(reason: str) -> Ignored:
        return Ignored(PROVIDER, event_id, event_type, reason)

    if event_type in SALE_EVENTS:
        return _transaction(event_id, event_type, occurred_at, data, rules)
    if event_type in ADJUSTMENT_EVENTS:
        return _adjustment(event_id, event_type, occurred_at, data, ignored)
    if event_type in CUSTOMER_EVENTS:
        email = data.get("email")
        return CustomerProfile(
            PROVIDER,
            event_id,
            event_type,
            _id(data, "id", "ctm_"),
            nonempty_str(email),
            occurred_at,
        )
    return ignored(f"event type {event_type} is not used by the bridge")


def _transaction(
    event_id: str, event_type: str, occurred_at: int, data: Mapping[str, Any], rules: EventRules
) -> Payment:
    transaction_id = _id(data, "id", "txn_")
    details = data.get("details")
    totals = details.get("totals") if isinstance(details, Mapping) else None
    if not isinstance(totals, Mapping):
        raise MalformedEvent("data.details.totals is missing")
    paid = _amount(totals, "grand_total", required=False) if "grand_total" in totals else _amount(totals, "total")
    tax = _amount(totals, "tax", required=False)
    currency = data.get("currency_code") or totals.get("currency_code")
    customer_id = data.get("customer_id")
    custom_data = data.get("custom_data")
    return Payment(
        provider=PROVIDER,
        event_id=event_id,
        event_type=event_type,
        transaction_key=transaction_key(PROVIDER, transaction_id),
        paid=money(paid, currency, "currency_code"),
        commissionable=money(commissionable(paid, tax, rules), currency, "currency_code"),
        occurred_at=occurred_at,
        customer=CustomerRefs(
            customer_key=first_text(rules.customer_key_field, custom_data),
            provider_customer_id=nonempty_str(customer_id),
            email=None,  # Paddle transactions carry no email: customer.* events supply it
            partner_hint=first_text(rules.partner_key_field, custom_data),
        ),
    )


def _adjustment(
    event_id: str, event_type: str, occurred_at: int, data: Mapping[str, Any], ignored: Callable[[str], Ignored]
) -> NormalisedEvent:
    adjustment_id = _id(data, "id", "adj_")
    action = data.get("action")
    status = data.get("status")
    if action not in ("refund", "chargeback", "chargeback_reverse"):
        return ignored(f"adjustment action {action!r} moves no commission")
    if status != "approved":
        return ignored(f"adjustment is {status!r}: only approved adjustments count")
    transaction_id = _id(data, "transaction_id", "txn_")
    totals = data.get("totals")
    if not isinstance(totals, Mapping):
        raise MalformedEvent("data.totals is missing")
    amount = money(_amount(totals, "total"), data.get("currency_code") or totals.get("currency_code"), "currency_code")
    if action == "refund":
        reason, source, dispute_status = ReversalReason.REFUND, adjustment_id, None
    else:
        # One chargeback per transaction: the reverse settles the same dispute as won.
        reason, source = ReversalReason.DISPUTE, f"{transaction_id}-chargeback"
        dispute_status = DisputeStatus.LOST if action == "chargeback" else DisputeStatus.WON
    return Reversal(
        provider=PROVIDER,
        event_id=event_id,
        event_type=event_type,
        reason=reason,
        source_id=source,
        reversed=amount,
        payment_refs=(transaction_id,),
        dispute_status=dispute_status,
        occurred_at=occurred_at,
    )
