"""explain, from what the real handlers stored: the verdict first, in plain words."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affiliate_bridge_dev import explain_report
from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.operations import Explanation, explain, list_dead_letters
from tests.integration.conftest import Bridge


def _report(bridge: Bridge, identifier: str) -> tuple[dict[str, Any], str]:
    found = explain(bridge.dynamodb, bridge.resources.table_name, identifier)
    assert found.found, identifier
    letters = list_dead_letters(bridge.sqs, bridge.resources.dead_letter_queue_url)
    report = explain_report.build(found, letters)
    text = explain_report.render(report)
    assert all(len(line) <= 100 for line in text.splitlines()), text
    assert text.startswith(f"{identifier}: ")
    assert not re.search(r"\b1[6-9]\d{8}\b", text), "a unix time where a date belongs"
    json.dumps(report)  # --json always works
    return report, " ".join(text.split())  # as read, whatever the wrapping


def test_a_partly_refunded_sale_is_credited_its_kept_share(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-1", partner_key="anna", stripe_customer_id="cus_1")
    invoice = s.invoice(amount_paid=4900, customer="cus_1")
    link = s.invoice_payment(invoice_id=invoice["id"], payment_intent="pi_Kept1", amount_paid=4900)
    refund = s.charge(amount=4900, amount_refunded=1225, payment_intent="pi_Kept1")
    sale = s.event("invoice.paid", invoice)
    for event in (sale, s.event("invoice_payment.paid", link), s.event("charge.refunded", refund)):
        bridge.post_stripe(event)
    bridge.drain()
    key = f"stripe-{invoice['id']}"
    for query in (sale["id"], invoice["id"], "pi_Kept1", key):
        report, text = _report(bridge, query)
        assert report["verdict"]["code"] == "credited", query
        assert f"Credited 36.75 USD to partner anna under key {key}-r1" in text
    (payment,) = report["payments"]
    assert payment["refunds"] == [{"id": refund["id"], "amount_minor": 1225}]
    assert [a["result"] for a in payment["attempts"]] == ["ok", "ok", "ok"]
    assert "12.25 USD" in text and "Refunds and disputes" in text


def test_why_not_unattributed_and_parked_until_a_date(bridge: Bridge) -> None:
    session = s.checkout_session(amount_total=1000, customer="cus_Stranger", email=None)
    bridge.post_stripe(s.event("checkout.session.completed", session))
    for query in (session["payment_intent"], "cus_Stranger"):
        report, text = _report(bridge, query)
        assert report["verdict"]["code"] == "unattributed", query
        assert re.search(r"parked for a late referral until \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)


def test_a_reversal_without_its_sale_is_said_plainly(bridge: Bridge) -> None:
    bridge.post_stripe(s.event("charge.refunded", s.charge(amount=500, amount_refunded=500, payment_intent="pi_Lone")))
    bridge.drain()
    report, text = _report(bridge, "pi_Lone")
    assert report["verdict"]["code"] == "reversal_without_sale"
    assert "no sale has been seen for this payment" in text and "no sale seen for this payment yet" in text


def test_dead_letter_and_retrying_verdicts_name_the_message_and_the_answer(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-2", partner_key="ben", stripe_customer_id="cus_2")
    session = s.checkout_session(amount_total=1500, customer="cus_2")
    event = s.event("checkout.session.completed", session)
    bridge.inject_fault(503, 1)
    bridge.post_stripe(event)
    bridge.mapping.poll_once()
    report, text = _report(bridge, event["id"])
    assert report["verdict"]["code"] == "retrying" and "answered 503" in text
    bridge.inject_fault(422, 1)
    bridge.drain()
    report, text = _report(bridge, event["id"])
    message_id = report["payments"][0]["events"][0]["message_id"]
    assert report["verdict"]["code"] == "dead_letter" and f"(message {message_id})" in text
    assert "dlq redrive" in text and "refused 422" in text and "busy, retried 503" in text


def test_a_customer_key_lists_its_payments_each_with_a_verdict(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-3", partner_key="cleo", stripe_customer_id="cus_3")
    first = s.checkout_session(amount_total=1000, customer="cus_3")
    second = s.checkout_session(amount_total=2000, customer="cus_3")
    for session in (first, second):
        bridge.post_stripe(s.event("checkout.session.completed", session))
    bridge.post_stripe(
        s.event("charge.refunded", s.charge(amount=2000, payment_intent=second["payment_intent"], amount_refunded=2000))
    )
    bridge.drain()
    report, text = _report(bridge, "user-3")
    verdicts = {p["transaction_key"]: p["verdict"]["code"] for p in report["payments"]}
    assert verdicts == {
        f"stripe-{first['payment_intent']}": "credited",
        f"stripe-{second['payment_intent']}": "reversed",
    }
    assert report["referral"]["partner_key"] == "cleo" and text.startswith("user-3: 2 payments")


def test_an_ignored_event_says_why() -> None:
    found = Explanation("evt_X", events=[{"pk": "EVENT#stripe#evt_X", "outcome": "ignored", "reason": "not a sale"}])
    report = explain_report.build(found, [])
    assert report["verdict"] == {"code": "ignored", "text": "Ignored: not a sale."}


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    customer=st.text(min_size=1, max_size=300),
    reason=st.text(max_size=400),
    event_type=st.text(min_size=1, max_size=120),
)
def test_hostile_values_never_widen_the_report(customer: str, reason: str, event_type: str) -> None:
    state = {
        "pk": "PAYMENT#k",
        "sk": "STATE",
        "transaction_key": "k",
        "sale": {
            "paid_minor": 100,
            "commissionable_minor": 100,
            "currency": "USD",
            "customer_key": customer,
            "partner_key": customer,
            "attribution_rule": "customer_key",
        },
        "currency": "USD",
        "applied_key": customer,
        "applied_minor": 100,
    }
    event = {"pk": "EVENT#stripe#evt_1", "outcome": "enqueued", "transaction_key": "k", "event_type": event_type}
    found = Explanation("k", events=[{**event, "reason": reason}], transaction_keys=["k"], states={"k": state})
    text = explain_report.render(explain_report.build(found, []))
    assert all(len(line) <= 100 for line in text.splitlines())
