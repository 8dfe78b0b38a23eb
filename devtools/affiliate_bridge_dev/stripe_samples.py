"""Realistic Stripe events for the CLI's ``send`` command, tests and benchmarks.

Shapes follow Stripe's API reference for both payload generations: ``LEGACY`` (up to
2025-02-24.acacia: invoice.payment_intent / invoice.charge / charge.invoice exist) and
``BASIL`` (2025-03-31.basil and later: those links are gone, invoice.parent and
total_taxes appear, and invoice_payment.paid links a payment intent to its invoice).
Only fields the bridge or a reader cares about are filled; ids are random per call.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from affiliate_bridge.providers.stripe.events import TESTED_API_VERSION

LEGACY = "2024-06-20"
BASIL = TESTED_API_VERSION  # what `register` pins endpoints to


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def event(event_type: str, obj: dict[str, Any], api_version: str = BASIL, created: int | None = None) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": api_version,
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def checkout_session(
    *,
    amount_total: int,
    currency: str = "usd",
    tax: int = 0,
    mode: str = "payment",
    customer: str | None = None,
    email: str | None = "buyer@example.com",
    payment_intent: str | None = None,
    invoice: str | None = None,
    metadata: dict[str, str] | None = None,
    client_reference_id: str | None = None,
    payment_status: str = "paid",
) -> dict[str, Any]:
    if mode == "payment" and payment_intent is None:
        payment_intent = new_id("pi")
    if mode == "subscription" and invoice is None:
        invoice = new_id("in")
    return {
        "id": new_id("cs_test"),
        "object": "checkout.session",
        "amount_subtotal": amount_total - tax,
        "amount_total": amount_total,
        "client_reference_id": client_reference_id,
        "currency": currency,
        "customer": customer,
        "customer_details": {"email": email, "name": "Test Buyer", "tax_exempt": "none"},
        "customer_email": None,
        "invoice": invoice,
        "livemode": False,
        "metadata": metadata or {},
        "mode": mode,
        "payment_intent": payment_intent if mode == "payment" else None,
        "payment_status": payment_status,
        "status": "complete",
        "subscription": new_id("sub") if mode == "subscription" else None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": tax},
    }


def invoice(
    *,
    amount_paid: int,
    currency: str = "usd",
    tax: int = 0,
    customer: str | None = None,
    email: str | None = "buyer@example.com",
    invoice_id: str | None = None,
    payment_intent: str | None = None,
    charge: str | None = None,
    api_version: str = BASIL,
    metadata: dict[str, str] | None = None,
    subscription_metadata: dict[str, str] | None = None,
    billing_reason: str = "subscription_cycle",
) -> dict[str, Any]:
    subscription = new_id("sub")
    body: dict[str, Any] = {
        "id": invoice_id or new_id("in"),
        "object": "invoice",
        "amount_due": amount_paid,
        "amount_paid": amount_paid,
        "amount_remaining": 0,
        "billing_reason": billing_reason,
        "currency": currency,
        "customer": customer,
        "customer_email": email,
        "metadata": metadata or {},
        "status": "paid",
        "subtotal": amount_paid - tax,
        "total": amount_paid,
    }
    if api_version == LEGACY:
        body.update(
            {
                "charge": charge or new_id("ch"),
                "payment_intent": payment_intent or new_id("pi"),
                "paid": True,
                "subscription": subscription,
                "subscription_details": {"metadata": subscription_metadata or {}},
                "tax": tax or None,
                "total_tax_amounts": [{"amount": tax, "inclusive": False, "tax_rate": "txr_1"}] if tax else [],
            }
        )
    else:
        body.update(
            {
                "parent": {
                    "type": "subscription_details",
                    "quote_details": None,
                    "subscription_details": {"metadata": subscription_metadata or {}, "subscription": subscription},
                },
                "total_taxes": [{"amount": tax, "tax_behavior": "exclusive", "taxability_reason": "standard_rated"}]
                if tax
                else [],
            }
        )
    return body


def invoice_payment(*, invoice_id: str, payment_intent: str, amount_paid: int, currency: str = "usd") -> dict[str, Any]:
    return {
        "id": new_id("inpay"),
        "object": "invoice_payment",
        "amount_paid": amount_paid,
        "amount_requested": amount_paid,
        "currency": currency,
        "invoice": invoice_id,
        "is_default": True,
        "payment": {"type": "payment_intent", "payment_intent": payment_intent},
        "status": "paid",
    }


def charge(
    *,
    amount: int,
    amount_refunded: int = 0,
    currency: str = "usd",
    payment_intent: str | None = None,
    invoice_id: str | None = None,
    customer: str | None = None,
    api_version: str = BASIL,
    charge_id: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": charge_id or new_id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "captured": True,
        "currency": currency,
        "customer": customer,
        "paid": True,
        "payment_intent": payment_intent,
        "refunded": amount_refunded >= amount,
        "status": "succeeded",
    }
    if api_version == LEGACY:
        body["invoice"] = invoice_id
    return body


def dispute(
    *, amount: int, status: str, charge_id: str, payment_intent: str | None, currency: str = "usd"
) -> dict[str, Any]:
    return {
        "id": new_id("dp"),
        "object": "dispute",
        "amount": amount,
        "charge": charge_id,
        "currency": currency,
        "payment_intent": payment_intent,
        "reason": "fraudulent",
        "status": status,
    }


def payment_intent(
    *,
    amount: int,
    currency: str = "usd",
    customer: str | None = None,
    invoice_id: str | None = None,
    api_version: str = BASIL,
    metadata: dict[str, str] | None = None,
    intent_id: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": intent_id or new_id("pi"),
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": currency,
        "customer": customer,
        "latest_charge": new_id("ch"),
        "metadata": metadata or {},
        "receipt_email": "buyer@example.com",
        "status": "succeeded",
    }
    if api_version == LEGACY:
        body["invoice"] = invoice_id
    return body
