"""A reversal that arrives before its payment's own key is known (disputes never name their
invoice; refunds on API 2025-03-31+ name only the payment intent; a legacy refund can beat
invoice.paid) still nets against that payment, exactly once, whatever the order."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from affiliate_bridge_dev import stripe_samples as s
from tests.integration.conftest import Bridge


def _drain_each(bridge: Bridge, events: list[dict[str, Any]], order: tuple[int, ...]) -> None:
    for index in order:
        assert bridge.post_stripe(events[index])["statusCode"] == 200
        bridge.drain()  # every message processed before the next delivery: the worst case


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_basil_partial_refund_sale_and_link_in_every_order(bridge: Bridge, order: tuple[int, ...]) -> None:
    bridge.add_referral(customer_key="link-1", partner_key="ann", stripe_customer_id="cus_L1")
    invoice = s.invoice(amount_paid=4900, customer="cus_L1")
    events = [
        s.event("invoice.paid", invoice),
        s.event(
            "invoice_payment.paid",
            s.invoice_payment(invoice_id=invoice["id"], payment_intent="pi_L1", amount_paid=4900),
        ),
        s.event(
            "charge.refunded", s.charge(amount=4900, amount_refunded=1000, payment_intent="pi_L1", charge_id="ch_L1")
        ),
    ]
    _drain_each(bridge, events, order)
    assert bridge.active_transactions() == {f"stripe-{invoice['id']}-r1": (39.0, "link-1")} or (
        bridge.active_transactions() == {f"stripe-{invoice['id']}": (39.0, "link-1")}
    )


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_a_lost_dispute_before_the_sale_and_the_link_reverses_it(bridge: Bridge, order: tuple[int, ...]) -> None:
    bridge.add_referral(customer_key="link-2", partner_key="bob", stripe_customer_id="cus_L2")
    invoice = s.invoice(amount_paid=2500, customer="cus_L2")
    events = [
        s.event("invoice.paid", invoice),
        s.event(
            "invoice_payment.paid",
            s.invoice_payment(invoice_id=invoice["id"], payment_intent="pi_L2", amount_paid=2500),
        ),
        s.event(
            "charge.dispute.closed", s.dispute(amount=2500, status="lost", charge_id="ch_L2", payment_intent="pi_L2")
        ),
    ]
    _drain_each(bridge, events, order)
    assert bridge.active_transactions() == {}


@pytest.mark.parametrize("order", list(itertools.permutations(range(2))))
def test_legacy_invoice_names_its_payment_intent_so_an_early_full_refund_is_pulled_in(
    bridge: Bridge, order: tuple[int, ...]
) -> None:
    bridge.add_referral(customer_key="link-3", partner_key="cat", stripe_customer_id="cus_L3")
    invoice = s.invoice(
        amount_paid=1500, customer="cus_L3", api_version=s.LEGACY, payment_intent="pi_L3", charge="ch_L3"
    )
    refund = s.charge(amount=1500, amount_refunded=1500, payment_intent="pi_L3", charge_id="ch_L3")  # no invoice field
    events = [s.event("invoice.paid", invoice, api_version=s.LEGACY), s.event("charge.refunded", refund)]
    _drain_each(bridge, events, order)
    assert bridge.active_transactions() == {}


def test_one_transaction_per_payment_even_when_deliveries_interleave_unprocessed(bridge: Bridge) -> None:
    """All deliveries accepted before the forwarder runs at all."""
    bridge.add_referral(customer_key="link-4", partner_key="dan", stripe_customer_id="cus_L4")
    invoice = s.invoice(amount_paid=10_000, customer="cus_L4")
    for event in (
        s.event("charge.refunded", s.charge(amount=10_000, amount_refunded=2_000, payment_intent="pi_L4")),
        s.event(
            "charge.dispute.closed", s.dispute(amount=3_000, status="lost", charge_id="ch_x", payment_intent="pi_L4")
        ),
        s.event(
            "invoice_payment.paid",
            s.invoice_payment(invoice_id=invoice["id"], payment_intent="pi_L4", amount_paid=10_000),
        ),
        s.event("invoice.paid", invoice),
    ):
        assert bridge.post_stripe(event)["statusCode"] == 200
    bridge.drain()
    active = bridge.active_transactions()
    assert len(active) == 1 and list(active.values()) == [(50.0, "link-4")]


@pytest.mark.parametrize("session_first", [True, False])
def test_an_old_api_subscription_checkout_and_its_first_invoice_are_one_transaction(
    bridge: Bridge, session_first: bool
) -> None:
    bridge.add_referral(customer_key="sub-1", partner_key="eve", stripe_customer_id="cus_S1")
    session = s.checkout_session(amount_total=2900, mode="subscription", customer="cus_S1")
    session["invoice"] = None  # API versions before the session named its invoice
    invoice = s.invoice(amount_paid=2900, customer="cus_S1", api_version=s.LEGACY, billing_reason="subscription_create")
    invoice["subscription"] = session["subscription"]
    events = [
        s.event("checkout.session.completed", session, api_version=s.LEGACY),
        s.event("invoice.paid", invoice, api_version=s.LEGACY),
    ]
    _drain_each(bridge, events, (0, 1) if session_first else (1, 0))
    active = bridge.active_transactions()
    assert list(active.values()) == [(29.0, "sub-1")], active
    # A later refund naming the invoice (legacy) nets against that one transaction.
    refund = s.charge(
        amount=2900,
        amount_refunded=2900,
        payment_intent=invoice["payment_intent"],
        invoice_id=invoice["id"],
        api_version=s.LEGACY,
    )
    _drain_each(bridge, [s.event("charge.refunded", refund, api_version=s.LEGACY)], (0,))
    assert bridge.active_transactions() == {}


def test_a_renewal_invoice_is_its_own_payment(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="sub-2", partner_key="fay", stripe_customer_id="cus_S2")
    first = s.invoice(amount_paid=1000, customer="cus_S2", billing_reason="subscription_create")
    renewal = s.invoice(amount_paid=1000, customer="cus_S2", billing_reason="subscription_cycle")
    renewal["parent"] = first["parent"]
    _drain_each(bridge, [s.event("invoice.paid", first), s.event("invoice.paid", renewal)], (0, 1))
    assert len(bridge.active_transactions()) == 2
