"""Stripe events -> domain facts, on the fixtures and on both API-version shapes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from affiliate_bridge.domain.events import (
    DisputeStatus,
    EventRules,
    Ignored,
    Payment,
    PaymentAlias,
    Reversal,
    ReversalReason,
)
from affiliate_bridge.errors import MalformedEvent
from affiliate_bridge.providers.stripe.events import StripeOptions, normalise_stripe_event
from affiliate_bridge_dev import stripe_samples as s
from tests.conftest import fixture_json

RULES = EventRules()


def test_fixture_checkout_paid_is_a_sale_keyed_by_payment_intent() -> None:
    event = fixture_json("stripe_event_checkout.session.completed.paid.json")
    result = normalise_stripe_event(event, EventRules(commission_excludes_tax=False))
    assert isinstance(result, Payment)
    assert result.transaction_key == "stripe-pi_1PgafyB7WZ01zgkWSjxsAJo3"
    assert (result.paid.amount_minor, result.paid.currency) == (2000, "USD")
    assert result.commissionable.amount_minor == 2000
    assert result.customer.provider_customer_id == "cus_QXg1o8vcGmoR32"
    assert result.customer.email == "example@example.com"
    assert result.event_id == "evt_1Pgc76B7WZ01zgkWwyRHS12y"


def test_fixture_checkout_placeholder_tax_exceeds_total_so_nothing_is_commissionable() -> None:
    # fixtures3's total_details.amount_tax is a placeholder far above amount_total: with
    # tax excluded the commissionable amount is clamped to zero, never negative.
    event = fixture_json("stripe_event_checkout.session.completed.paid.json")
    result = normalise_stripe_event(event, RULES)
    assert isinstance(result, Payment)
    assert result.commissionable.amount_minor == 0


def test_fixture_unpaid_checkout_is_ignored_until_async_payment_succeeds() -> None:
    result = normalise_stripe_event(fixture_json("stripe_event_checkout.session.completed.json"), RULES)
    assert isinstance(result, Ignored)
    assert "async_payment_succeeded" in result.reason


def test_undocumented_payment_status_is_malformed() -> None:
    event = fixture_json("stripe_event_checkout.session.completed.json")
    event["data"]["object"]["payment_status"] = "bogus"
    with pytest.raises(MalformedEvent):
        normalise_stripe_event(event, RULES)


def test_fixture_invoice_paid() -> None:
    result = normalise_stripe_event(fixture_json("stripe_event_invoice.paid.paid.json"), RULES)
    assert isinstance(result, Payment)
    assert result.transaction_key == "stripe-in_1Pgc6tB7WZ01zgkWu9fdqL6I"
    assert result.paid.amount_minor == 1000
    assert result.customer.email == "example@example.com"
    assert result.payment_refs == ()  # basil shape: no payment_intent on the invoice


def test_fixture_draft_invoice_is_a_zero_payment() -> None:
    result = normalise_stripe_event(fixture_json("stripe_event_invoice.paid.json"), RULES)
    assert isinstance(result, Payment)
    assert result.commissionable.amount_minor == 0


def test_fixture_charge_refunded() -> None:
    result = normalise_stripe_event(fixture_json("stripe_event_charge.refunded.refunded.json"), RULES)
    assert isinstance(result, Reversal)
    assert result.reason is ReversalReason.REFUND
    assert result.reversed.amount_minor == 100
    assert result.payment_refs == ("ch_1PgafuB7WZ01zgkWXYmPNZs8",)
    unrefunded = normalise_stripe_event(fixture_json("stripe_event_charge.refunded.json"), RULES)
    assert isinstance(unrefunded, Reversal) and unrefunded.reversed.amount_minor == 0


@pytest.mark.parametrize("resource", ["refund", "dispute", "payment_intent", "customer"])
def test_fixture_resources_wrapped_in_events(resource: str) -> None:
    subset = fixture_json("stripe_openapi_fixtures3_subset.json")["resources"]
    event = copy.deepcopy(subset["event"])
    event["data"] = {"object": subset[resource]}
    event["type"] = {
        "refund": "refund.created",
        "dispute": "charge.dispute.created",
        "payment_intent": "payment_intent.succeeded",
        "customer": "customer.created",
    }[resource]
    result = normalise_stripe_event(event, RULES)
    if resource == "dispute":
        assert isinstance(result, Reversal)
        assert result.dispute_status is DisputeStatus.OPEN
        assert result.payment_refs == ("ch_1PgafuB7WZ01zgkWXYmPNZs8",)
    else:
        assert isinstance(result, Ignored)


@pytest.mark.parametrize("api_version", [s.LEGACY, s.BASIL])
def test_subscription_checkout_and_invoice_converge(api_version: str) -> None:
    session = s.checkout_session(amount_total=4900, mode="subscription", customer="cus_A")
    invoice = s.invoice(amount_paid=4900, invoice_id=session["invoice"], customer="cus_A", api_version=api_version)
    from_session = normalise_stripe_event(s.event("checkout.session.completed", session, api_version), RULES)
    from_invoice = normalise_stripe_event(s.event("invoice.paid", invoice, api_version), RULES)
    assert isinstance(from_session, Payment) and isinstance(from_invoice, Payment)
    assert from_session.transaction_key == from_invoice.transaction_key == f"stripe-{session['invoice']}"
    assert from_session.commissionable == from_invoice.commissionable


def test_legacy_invoice_names_its_payment_intent_and_charge() -> None:
    invoice = s.invoice(amount_paid=1000, api_version=s.LEGACY, payment_intent="pi_L", charge="ch_L")
    result = normalise_stripe_event(s.event("invoice.paid", invoice, s.LEGACY), RULES)
    assert isinstance(result, Payment)
    assert result.payment_refs == ("pi_L", "ch_L")


@pytest.mark.parametrize("api_version", [s.LEGACY, s.BASIL])
def test_tax_is_excluded_by_default(api_version: str) -> None:
    invoice = s.invoice(amount_paid=1200, tax=200, api_version=api_version)
    result = normalise_stripe_event(s.event("invoice.paid", invoice, api_version), RULES)
    assert isinstance(result, Payment)
    assert (result.paid.amount_minor, result.commissionable.amount_minor) == (1200, 1000)
    included = normalise_stripe_event(
        s.event("invoice.paid", invoice, api_version), EventRules(commission_excludes_tax=False)
    )
    assert isinstance(included, Payment) and included.commissionable.amount_minor == 1200


def test_checkout_tax_excluded() -> None:
    session = s.checkout_session(amount_total=1190, tax=190, currency="eur")
    result = normalise_stripe_event(s.event("checkout.session.completed", session), RULES)
    assert isinstance(result, Payment)
    assert result.commissionable.amount_minor == 1000 and result.paid.currency == "EUR"


@pytest.mark.parametrize(("currency", "amount"), [("jpy", 5000), ("kwd", 12345)])
def test_zero_and_three_decimal_amounts_stay_in_minor_units(currency: str, amount: int) -> None:
    session = s.checkout_session(amount_total=amount, currency=currency)
    result = normalise_stripe_event(s.event("checkout.session.completed", session), RULES)
    assert isinstance(result, Payment)
    assert result.paid.amount_minor == amount


def test_checkout_with_invoice_creation_keys_by_invoice_and_links_its_payment_intent() -> None:
    session = s.checkout_session(amount_total=3000, invoice="in_X", payment_intent="pi_X")
    result = normalise_stripe_event(s.event("checkout.session.completed", session), RULES)
    assert isinstance(result, Payment)
    assert result.transaction_key == "stripe-in_X"
    assert result.payment_refs == ("pi_X",)


def test_metadata_customer_key_and_subscription_metadata() -> None:
    invoice = s.invoice(amount_paid=500, subscription_metadata={"customer_key": "user-42", "partner_key": "p1"})
    result = normalise_stripe_event(s.event("invoice.paid", invoice), RULES)
    assert isinstance(result, Payment)
    assert result.customer.customer_key == "user-42"
    assert result.customer.partner_hint == "p1"
    custom = normalise_stripe_event(
        s.event("invoice.paid", s.invoice(amount_paid=500, metadata={"uid": "u-7"})),
        EventRules(customer_key_field="uid"),
    )
    assert isinstance(custom, Payment) and custom.customer.customer_key == "u-7"


def test_setup_mode_and_unpaid_sessions_are_ignored() -> None:
    setup = s.checkout_session(amount_total=0, mode="setup")
    assert isinstance(normalise_stripe_event(s.event("checkout.session.completed", setup), RULES), Ignored)
    unpaid = s.checkout_session(amount_total=900, payment_status="unpaid")
    assert isinstance(normalise_stripe_event(s.event("checkout.session.completed", unpaid), RULES), Ignored)
    paid_later = normalise_stripe_event(
        s.event("checkout.session.async_payment_succeeded", {**unpaid, "payment_status": "paid"}), RULES
    )
    assert isinstance(paid_later, Payment) and paid_later.paid.amount_minor == 900


def test_charge_succeeded_is_never_a_sale() -> None:
    result = normalise_stripe_event(s.event("charge.succeeded", s.charge(amount=1000, payment_intent="pi_1")), RULES)
    assert isinstance(result, Ignored)


def test_payment_intent_succeeded_only_when_opted_in() -> None:
    intent = s.payment_intent(amount=2500, customer="cus_P")
    event = s.event("payment_intent.succeeded", intent)
    assert isinstance(normalise_stripe_event(event, RULES), Ignored)
    opted = normalise_stripe_event(event, RULES, StripeOptions(payment_intent_sales=True))
    assert isinstance(opted, Payment) and opted.transaction_key == f"stripe-{intent['id']}"
    # A checkout payment for the same money converges on the same key.
    session = s.checkout_session(amount_total=2500, payment_intent=intent["id"])
    from_session = normalise_stripe_event(s.event("checkout.session.completed", session), RULES)
    assert isinstance(from_session, Payment) and from_session.transaction_key == opted.transaction_key
    # Legacy payment intents that paid an invoice leave the sale to invoice.paid.
    legacy = s.payment_intent(amount=2500, invoice_id="in_9", api_version=s.LEGACY)
    assert isinstance(
        normalise_stripe_event(
            s.event("payment_intent.succeeded", legacy, s.LEGACY), RULES, StripeOptions(payment_intent_sales=True)
        ),
        Ignored,
    )


@pytest.mark.parametrize("api_version", [s.LEGACY, s.BASIL])
def test_partial_refund_is_cumulative(api_version: str) -> None:
    charge = s.charge(
        amount=1000, amount_refunded=300, payment_intent="pi_R", invoice_id="in_R", api_version=api_version
    )
    result = normalise_stripe_event(s.event("charge.refunded", charge, api_version), RULES)
    assert isinstance(result, Reversal)
    assert result.reversed.amount_minor == 300
    expected = ("in_R", "pi_R", charge["id"]) if api_version == s.LEGACY else ("pi_R", charge["id"])
    assert result.payment_refs == expected


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("lost", DisputeStatus.LOST), ("won", DisputeStatus.WON), ("needs_response", DisputeStatus.OPEN)],
)
def test_dispute_outcomes(status: str, outcome: DisputeStatus) -> None:
    dispute = s.dispute(amount=1000, status=status, charge_id="ch_D", payment_intent="pi_D")
    result = normalise_stripe_event(s.event("charge.dispute.closed", dispute), RULES)
    assert isinstance(result, Reversal)
    assert result.dispute_status is outcome and result.payment_refs == ("pi_D", "ch_D")


def test_invoice_payment_links_payment_intent_to_invoice() -> None:
    body = s.invoice_payment(invoice_id="in_B", payment_intent="pi_B", amount_paid=700)
    result = normalise_stripe_event(s.event("invoice_payment.paid", body), RULES)
    assert isinstance(result, PaymentAlias)
    assert result.transaction_key == "stripe-in_B" and result.payment_refs == ("pi_B",)


def test_unknown_event_is_ignored() -> None:
    result = normalise_stripe_event(
        s.event("customer.subscription.updated", {"id": "sub_1", "object": "subscription"}), RULES
    )
    assert isinstance(result, Ignored)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.pop("id"),
        lambda e: e.update(type=None),
        lambda e: e.update(data=None),
        lambda e: e["data"].update(object="nope"),
        lambda e: e["data"]["object"].pop("amount_paid"),
        lambda e: e["data"]["object"].update(amount_paid="10.00"),
        lambda e: e["data"]["object"].update(currency="dollars"),
        lambda e: e["data"]["object"].pop("id"),
    ],
)
def test_missing_fields_are_malformed(mutate: Any) -> None:
    event = s.event("invoice.paid", s.invoice(amount_paid=100))
    mutate(event)
    with pytest.raises(MalformedEvent):
        normalise_stripe_event(event, RULES)


def test_invoice_payment_succeeded_is_the_same_sale_as_invoice_paid() -> None:
    invoice = s.invoice(amount_paid=4900)
    paid = normalise_stripe_event(s.event("invoice.paid", invoice), RULES)
    succeeded = normalise_stripe_event(s.event("invoice.payment_succeeded", invoice), RULES)
    assert isinstance(paid, Payment) and isinstance(succeeded, Payment)
    assert succeeded.transaction_key == paid.transaction_key == f"stripe-{invoice['id']}"
    assert (succeeded.paid, succeeded.commissionable) == (paid.paid, paid.commissionable)
