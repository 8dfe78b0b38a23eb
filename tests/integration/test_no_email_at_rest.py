"""No email address in clear in any stored item or any log line, across the whole pipeline:
Stripe and Paddle, backend and platform referrals, checkout-only, late attribution,
mirrored signups, refunds, and an affiliate API that answers with errors."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from affiliate_bridge_dev import paddle_samples as p
from affiliate_bridge_dev import stripe_samples as s
from tests.integration.conftest import Bridge
from tests.integration.test_observability import logs_to_current_stdout

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (key, *_strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def emails_at_rest(bridge: Bridge) -> list[str]:
    return [text for item in bridge.table_items() for text in _strings(item) if EMAIL.search(text)]


@pytest.mark.bridge_env(CREATE_CUSTOMER_ON_REFERRAL="true")
def test_full_pipeline_leaves_no_email_in_the_table_or_the_logs(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    with logs_to_current_stdout():
        # Backend referral with an email; a Stripe sale matched by that email; a partial refund.
        bridge.add_referral(customer_key="cust-100", partner_key="ann", email="Jane.Doe+shop@example.com")
        session = s.checkout_session(amount_total=10_000, email="jane.doe+shop@example.com", customer="cus_jane")
        bridge.post_stripe(s.event("checkout.session.completed", session))
        refund = s.charge(amount=10_000, amount_refunded=2_500, payment_intent=session["payment_intent"])
        bridge.post_stripe(s.event("charge.refunded", refund))
        # Checkout-only: the partner key on the payment creates the referral, with an email.
        only = s.checkout_session(amount_total=3_000, email="walk.in@example.org", metadata={"partner_key": "bob"})
        bridge.post_stripe(s.event("checkout.session.completed", only))
        # Late attribution: a payment before its referral, matched later by email.
        early = s.checkout_session(amount_total=4_000, email="early.bird@example.net")
        bridge.post_stripe(s.event("checkout.session.completed", early))
        bridge.add_referral(customer_key="cust-200", partner_key="cat", email="early.bird@example.net")
        # Paddle: the customer's email arrives by customer.created; the sale by customer id; a refund.
        bridge.post_paddle(p.notification("customer.created", p.customer(customer_id="ctm_p1", email="pad@example.io")))
        bridge.add_referral(customer_key="cust-300", partner_key="dan", email="pad@example.io")
        txn = p.transaction(total=4_900, customer_id="ctm_p1")
        bridge.post_paddle(p.notification("transaction.completed", txn))
        bridge.post_paddle(p.notification("adjustment.created", p.adjustment(transaction_id=txn["id"], total=4_900)))
        # The platform's own webhook, with an email.
        bridge.post_platform(
            {
                "event": "customer.created",
                "created_at": "2026-11-23T10:00:00Z",
                "data": {"key": "plat-9", "partner": "eve", "email": "platform.person@example.com"},
            }
        )
        # The affiliate API fails once with a body that names the email; the retry lands.
        bridge.inject_fault(503, 1)
        bridge.drain()
    output = capsys.readouterr().out

    sandbox = bridge.sandbox_state()
    assert len([t for t in sandbox["transactions"].values() if t["deleted_at"] is None]) >= 3  # the pipeline ran
    assert "jane.doe+shop@example.com" in json.dumps(sandbox).lower()  # the API did get the email it needs

    assert emails_at_rest(bridge) == []
    leaked = [line for line in output.splitlines() if EMAIL.search(line)]
    assert leaked == []
    assert "email-sha256:" in output or "email_hash" in output or output  # logs were captured at all
    assert output.count("\n") > 10


@pytest.mark.bridge_env(CREATE_CUSTOMER_ON_REFERRAL="true")
def test_an_email_used_as_customer_key_is_never_logged(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    with logs_to_current_stdout():
        bridge.add_referral(customer_key="keyed.by@example.com", partner_key="ann")  # mirrored: customer-<key>
        sale = s.checkout_session(amount_total=1_000, metadata={"customer_key": "keyed.by@example.com"})
        bridge.post_stripe(s.event("checkout.session.completed", sale))
        bridge.drain()
    output = capsys.readouterr().out
    assert "keyed.by@example.com" not in output
    assert "email-sha256:" in output


def test_the_log_formatter_redacts_whatever_a_call_site_passes(capsys: pytest.CaptureFixture[str]) -> None:
    from affiliate_bridge.edge import observability

    with logs_to_current_stdout():
        observability.logger.warning(
            "provider said: customer Jane.Doe@Example.com exists", extra={"detail": {"to": "x.y@z.example"}}
        )
    output = capsys.readouterr().out
    assert "Jane.Doe" not in output and "x.y@z.example" not in output
    assert output.count("email-sha256:") == 2
