"""Stripe event -> Payment / Reversal / PaymentAlias / Ignored.

One payment, one transaction: the transaction key is the invoice id when the money paid
an invoice, otherwise the payment intent id. ``checkout.session.completed`` (which names
its invoice, if any, and its payment intent) and ``invoice.paid`` therefore converge on
one key whatever order they come in. ``charge.succeeded`` is never a sale, and
``payment_intent.succeeded`` only when the merchant opts in (STRIPE_PAYMENT_INTENT_SALES),
because since API version 2025-03-31 a charge or payment intent no longer names its
invoice, so counting them would turn one subscription payment into two transactions.

Both payload shapes are read: before 2025-03-31 an invoice carries ``payment_intent`` and
``charge`` and a charge carries ``invoice``; from 2025-03-31 on, those links are gone and
``invoice_payment.paid`` carries the payment-intent -> invoice link instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from affiliate_bridge.domain.events import (
    CustomerRefs,
    DisputeStatus,
    EventRules,
    Ignored,
    NormalisedEvent,
    Payment,
    PaymentAlias,
    Reversal,
    ReversalReason,
    transaction_key,
)
from affiliate_bridge.errors import MalformedEvent
from affiliate_bridge.providers.reading import commissionable, first_text, money, nonempty_str

PROVIDER = "stripe"

# invoice.payment_succeeded is what many integrations enable instead of invoice.paid; for
# a paid invoice both carry the same invoice, so they land on the same key (enabling both
# stays one transaction).
INVOICE_SALE_EVENTS = frozenset({"invoice.paid", "invoice.payment_succeeded"})
SALE_EVENTS = (
    frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"}) | INVOICE_SALE_EVENTS
)
DISPUTE_EVENTS = frozenset(
    {
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
    }
)

# The API version the bridge's readers are tested with (both payload generations are
# read; this is the newer one). ``register`` pins the webhook endpoint to it, and
# backfill reads objects at the version whose shapes it rebuilds events from.
TESTED_API_VERSION = "2025-03-31.basil"
# What ``register`` subscribes an endpoint to: the README's list.
REGISTERED_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "invoice.paid",
    "invoice_payment.paid",
    "charge.refunded",
    "charge.dispute.closed",
)
# What ``backfill`` and the reconciler fetch: everything the bridge reads (Stripe's
# ``types`` filter takes at most 20).
HANDLED_EVENTS = tuple(sorted({*REGISTERED_EVENTS, *SALE_EVENTS, *DISPUTE_EVENTS, "payment_intent.succeeded"}))


def _id(value: Any) -> str | None:
    """Stripe fields hold an id or, when expanded, the object itself."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping):
        inner = value.get("id")
        return inner if isinstance(inner, str) and inner else None
    return None


def _int(obj: Mapping[str, Any], field: str, *, required: bool = True) -> int:
    value = obj.get(field)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value is None and not required:
        return 0
    raise MalformedEvent(f"{obj.get('object', 'object')}.{field} must be an integer")


def _envelope(event: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any], int]:
    """Event id, type, the object it is about, and when it happened (unix seconds)."""
    event_id = event.get("id")
    event_type = event.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) or not event_type:
        raise MalformedEvent("event needs a string id and type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        raise MalformedEvent("event.data.object must be an object")
    created = event.get("created")
    return event_id, event_type, obj, created if isinstance(created, int) else 0


@dataclass(frozen=True)
class StripeOptions:
    """The merchant's Stripe-only choices (see Settings)."""

    # payment_intent.succeeded counts as a sale (payments made without Checkout or invoices).
    payment_intent_sales: bool = False
    # A Checkout Session's client_reference_id names the partner (checkout-only shops).
    client_reference_is_partner_key: bool = False


def normalise_stripe_event(
    event: Mapping[str, Any], rules: EventRules, options: StripeOptions = StripeOptions()
) -> NormalisedEvent:
    """Read a verified, decoded Stripe event. Raises MalformedEvent for missing fields."""
    event_id, event_type, obj, occurred_at = _envelope(event)

    def ignored(reason: str) -> Ignored:
        return Ignored(PROVIDER, event_id, event_type, reason)

    if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        return _checkout_session(event_id, event_type, occurred_at, obj, rules, options, ignored)
    if event_type in INVOICE_SALE_EVENTS:
        return _invoice_paid(event_id, event_type, occurred_at, obj, rules)
    if event_type == "invoice_payment.paid":
        return _invoice_payment(event_id, event_type, obj, ignored)
    if event_type == "payment_intent.succeeded":
        return _payment_intent(event_id, event_type, occurred_at, obj, rules, options, ignored)
    if event_type == "charge.succeeded":
        return ignored(
            "charge.succeeded is never a sale: checkout.session.completed, invoice.paid or "
            "payment_intent.succeeded carry the same money"
        )
    if event_type == "charge.refunded":
        return _charge_refunded(event_id, event_type, occurred_at, obj)
    if event_type in DISPUTE_EVENTS:
        return _dispute(event_id, event_type, occurred_at, obj)
    return ignored(f"event type {event_type} is not used by the bridge")


def _checkout_session(
    event_id: str,
    event_type: str,
    occurred_at: int,
    session: Mapping[str, Any],
    rules: EventRules,
    options: StripeOptions,
    ignored: Callable[[str], Ignored],
) -> NormalisedEvent:
    mode = session.get("mode")
    if mode == "setup":
        return ignored("checkout in setup mode moves no money")
    status = session.get("payment_status")
    if status == "unpaid":
        return ignored("payment not yet received: checkout.session.async_payment_succeeded will follow")
    if status not in ("paid", "no_payment_required"):
        raise MalformedEvent(f"checkout.session.payment_status {status!r} is not one Stripe documents")
    invoice_id = _id(session.get("invoice"))
    payment_intent_id = _id(session.get("payment_intent"))
    paid_minor = _int(session, "amount_total", required=status == "paid")
    total_details = session.get("total_details")
    tax = _int(total_details, "amount_tax", required=False) if isinstance(total_details, Mapping) else 0
    payment_id = invoice_id or payment_intent_id or session.get("id")
    if not isinstance(payment_id, str):
        raise MalformedEvent("checkout.session has no id")
    subscription_id = _id(session.get("subscription"))
    # Before the session named its invoice, a subscription's first payment can only be
    # matched with that invoice through the subscription.
    same_money_as = first_payment_of(subscription_id) if mode == "subscription" and not invoice_id else None
    details = session.get("customer_details")
    email = details.get("email") if isinstance(details, Mapping) else None
    return Payment(
        provider=PROVIDER,
        event_id=event_id,
        event_type=event_type,
        transaction_key=transaction_key(PROVIDER, payment_id),
        paid=money(paid_minor, session.get("currency"), "checkout.session.currency"),
        commissionable=money(
            commissionable(paid_minor, tax, rules), session.get("currency"), "checkout.session.currency"
        ),
        occurred_at=occurred_at,
        customer=CustomerRefs(
            customer_key=first_text(rules.customer_key_field, session.get("metadata")),
            provider_customer_id=_id(session.get("customer")),
            email=email if isinstance(email, str) else nonempty_str(session.get("customer_email")),
            partner_hint=first_text(rules.partner_key_field, session.get("metadata"))
            or (nonempty_str(session.get("client_reference_id")) if options.client_reference_is_partner_key else None),
        ),
        payment_refs=tuple(ref for ref in (payment_intent_id,) if ref and ref != payment_id),
        same_money_as=same_money_as,
    )


def first_payment_of(subscription_id: str | None) -> str | None:
    return f"{subscription_id}:first-payment" if subscription_id else None


def _invoice_tax(invoice: Mapping[str, Any]) -> int:
    # 2025-03-31 and later: total_taxes[].amount; earlier: tax, or total_tax_amounts[].amount.
    for list_field in ("total_taxes", "total_tax_amounts"):
        entries = invoice.get(list_field)
        if isinstance(entries, list) and entries:
            return sum(
                e.get("amount", 0) for e in entries if isinstance(e, Mapping) and isinstance(e.get("amount"), int)
            )
    tax = invoice.get("tax")
    return tax if isinstance(tax, int) else 0


def _invoice_paid(
    event_id: str, event_type: str, occurred_at: int, invoice: Mapping[str, Any], rules: EventRules
) -> Payment:
    invoice_id = _id(invoice.get("id"))
    if invoice_id is None:
        raise MalformedEvent("invoice has no id")
    paid_minor = _int(invoice, "amount_paid")
    total = invoice.get("total")
    tax = _invoice_tax(invoice)
    if isinstance(total, int) and total > 0 and paid_minor < total:
        tax = (tax * paid_minor) // total  # partly paid invoice: its share of the tax
    parent = invoice.get("parent")
    subscription_details = (parent.get("subscription_details") if isinstance(parent, Mapping) else None) or invoice.get(
        "subscription_details"
    )
    subscription_metadata = subscription_details.get("metadata") if isinstance(subscription_details, Mapping) else None
    refs: list[str] = []
    for field in ("payment_intent", "charge"):  # present before 2025-03-31 only
        ref = _id(invoice.get(field))
        if ref:
            refs.append(ref)
    subscription_id = _id(invoice.get("subscription")) or (
        _id(subscription_details.get("subscription")) if isinstance(subscription_details, Mapping) else None
    )
    same_money_as = (
        first_payment_of(subscription_id) if invoice.get("billing_reason") == "subscription_create" else None
    )
    payments = invoice.get("payments")
    if isinstance(payments, Mapping) and isinstance(payments.get("data"), list):
        for entry in payments["data"]:
            payment = entry.get("payment") if isinstance(entry, Mapping) else None
            ref = _id(payment.get("payment_intent")) if isinstance(payment, Mapping) else None
            if ref and ref not in refs:
                refs.append(ref)
    return Payment(
        provider=PROVIDER,
        event_id=event_id,
        event_type=event_type,
        transaction_key=transaction_key(PROVIDER, invoice_id),
        paid=money(paid_minor, invoice.get("currency"), "invoice.currency"),
        commissionable=money(commissionable(paid_minor, tax, rules), invoice.get("currency"), "invoice.currency"),
        occurred_at=occurred_at,
        customer=CustomerRefs(
            customer_key=first_text(rules.customer_key_field, invoice.get("metadata"), subscription_metadata),
            provider_customer_id=_id(invoice.get("customer")),
            email=nonempty_str(invoice.get("customer_email")),
            partner_hint=first_text(rules.partner_key_field, invoice.get("metadata"), subscription_metadata),
        ),
        payment_refs=tuple(refs),
        same_money_as=same_money_as,
    )


def _invoice_payment(
    event_id: str, event_type: str, invoice_payment: Mapping[str, Any], ignored: Callable[[str], Ignored]
) -> NormalisedEvent:
    invoice_id = _id(invoice_payment.get("invoice"))
    payment = invoice_payment.get("payment")
    refs = []
    if isinstance(payment, Mapping):
        for field in ("payment_intent", "charge"):
            ref = _id(payment.get(field))
            if ref:
                refs.append(ref)
    if not invoice_id:
        raise MalformedEvent("invoice_payment.invoice is missing")
    if not refs:
        return ignored("invoice payment made outside Stripe: nothing to link")
    return PaymentAlias(PROVIDER, event_id, event_type, transaction_key(PROVIDER, invoice_id), tuple(refs))


def _payment_intent(
    event_id: str,
    event_type: str,
    occurred_at: int,
    intent: Mapping[str, Any],
    rules: EventRules,
    options: StripeOptions,
    ignored: Callable[[str], Ignored],
) -> NormalisedEvent:
    if not options.payment_intent_sales:
        return ignored(
            "payment_intent.succeeded is not a sale unless STRIPE_PAYMENT_INTENT_SALES=true "
            "(checkout.session.completed and invoice.paid carry the same money)"
        )
    if _id(intent.get("invoice")):
        return ignored("payment intent paid an invoice: invoice.paid carries this sale")
    intent_id = _id(intent.get("id"))
    if intent_id is None:
        raise MalformedEvent("payment_intent has no id")
    received = _int(intent, "amount_received")
    return Payment(
        provider=PROVIDER,
        event_id=event_id,
        event_type=event_type,
        transaction_key=transaction_key(PROVIDER, intent_id),
        paid=money(received, intent.get("currency"), "payment_intent.currency"),
        commissionable=money(
            received, intent.get("currency"), "payment_intent.currency"
        ),  # a bare payment intent does not itemise tax
        occurred_at=occurred_at,
        customer=CustomerRefs(
            customer_key=first_text(rules.customer_key_field, intent.get("metadata")),
            provider_customer_id=_id(intent.get("customer")),
            email=nonempty_str(intent.get("receipt_email")),
            partner_hint=first_text(rules.partner_key_field, intent.get("metadata")),
        ),
        payment_refs=tuple(ref for ref in (_id(intent.get("latest_charge")),) if ref),
    )


def _charge_refs(charge: Mapping[str, Any]) -> tuple[str, ...]:
    refs = [_id(charge.get("invoice")), _id(charge.get("payment_intent")), _id(charge.get("id"))]
    return tuple(ref for ref in refs if ref)


def _charge_refunded(event_id: str, event_type: str, occurred_at: int, charge: Mapping[str, Any]) -> Reversal:
    charge_id = _id(charge.get("id"))
    if charge_id is None:
        raise MalformedEvent("charge has no id")
    refunded = _int(charge, "amount_refunded")
    return Reversal(
        provider=PROVIDER,
        event_id=event_id,
        event_type=event_type,
        reason=ReversalReason.REFUND,
        source_id=charge_id,
        reversed=money(refunded, charge.get("currency"), "charge.currency"),
        payment_refs=_charge_refs(charge),
        occurred_at=occurred_at,
    )


def _dispute(event_id: str, event_type: str, occurred_at: int, dispute: Mapping[str, Any]) -> Reversal:
    dispute_id = _id(dispute.get("id"))
    if dispute_id is None:
        raise MalformedEvent("dispute has no id")
    status = dispute.get("status")
    if status == "lost":
        outcome = DisputeStatus.LOST
    elif status == "won":
        outcome = DisputeStatus.WON
    else:
        outcome = DisputeStatus.OPEN
    charge = dispute.get("charge")
    refs = [_id(charge.get("invoice")) if isinstance(charge, Mapping) else None]
    refs += [_id(dispute.get("payment_intent")), _id(charge)]
    return Reversal(
        provider=PROVIDER,
        event_id=event_id,
        event_type=event_type,
        reason=ReversalReason.DISPUTE,
        source_id=dispute_id,
        reversed=money(_int(dispute, "amount"), dispute.get("currency"), "dispute.currency"),
        payment_refs=tuple(ref for ref in refs if ref),
        dispute_status=outcome,
        occurred_at=occurred_at,
    )
