"""Stripe deliveries through the whole pipeline to the sandbox affiliate API."""

from __future__ import annotations

import json
import random

import pytest

from affiliate_bridge.storage import keys
from affiliate_bridge_dev import stripe_samples as s
from tests.conftest import fixture_json
from tests.integration.conftest import Bridge


def _body(response: dict) -> dict:
    return json.loads(response["body"])  # type: ignore[no-any-return]


def test_fixture_checkout_for_a_referred_customer_becomes_one_transaction(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        bridge.add_referral(customer_key="user-1", partner_key="partner-a", stripe_customer_id="cus_QXg1o8vcGmoR32")[
            "statusCode"
        ]
        == 201
    )
    event = fixture_json("stripe_event_checkout.session.completed.paid.json")
    # The fixture's tax is a placeholder larger than the total; give it a real one.
    event["data"]["object"]["total_details"]["amount_tax"] = 200
    response = bridge.post_stripe(event)
    assert response["statusCode"] == 200, response
    assert _body(response) == {"outcome": "enqueued", "transaction_key": "stripe-pi_1PgafyB7WZ01zgkWSjxsAJo3"}
    bridge.drain()
    assert bridge.active_transactions() == {"stripe-pi_1PgafyB7WZ01zgkWSjxsAJo3": (18.0, "user-1")}
    state = bridge.sandbox_state()
    assert state["customers"]["user-1"]["partner"] == "partner-a"
    assert state["customers"]["user-1"]["email"] == "example@example.com"
    assert state["transactions"]["stripe-pi_1PgafyB7WZ01zgkWSjxsAJo3"]["amount_units"] == "USD"


@pytest.mark.parametrize("api_version", [s.LEGACY, s.BASIL])
def test_subscription_events_in_any_order_and_repeated_make_one_transaction(bridge: Bridge, api_version: str) -> None:
    bridge.add_referral(customer_key="user-2", partner_key="partner-b", email="Sub@Example.com")
    session = s.checkout_session(amount_total=4900, mode="subscription", customer="cus_S", email="sub@example.com")
    invoice = s.invoice(
        amount_paid=4900,
        invoice_id=session["invoice"],
        customer="cus_S",
        email="sub@example.com",
        api_version=api_version,
    )
    events = [
        s.event("checkout.session.completed", session, api_version),
        s.event("invoice.paid", invoice, api_version),
        s.event(
            "charge.succeeded",
            s.charge(amount=4900, payment_intent=invoice.get("payment_intent"), api_version=api_version),
            api_version,
        ),
    ]
    deliveries = events + events[:2]  # Stripe retries
    random.Random(7).shuffle(deliveries)
    for event in deliveries:
        assert bridge.post_stripe(event)["statusCode"] == 200
    bridge.drain()
    assert bridge.active_transactions() == {f"stripe-{session['invoice']}": (49.0, "user-2")}


def test_legacy_refund_names_the_invoice_and_partial_refund_keeps_proportional_commission(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-3", partner_key="partner-c", stripe_customer_id="cus_L")
    invoice = s.invoice(
        amount_paid=12000, tax=2000, customer="cus_L", api_version=s.LEGACY, payment_intent="pi_L", charge="ch_L"
    )
    bridge.post_stripe(s.event("invoice.paid", invoice, s.LEGACY))
    bridge.drain()
    key = f"stripe-{invoice['id']}"
    assert bridge.active_transactions() == {key: (100.0, "user-3")}
    partial = s.charge(
        amount=12000,
        amount_refunded=3000,
        payment_intent="pi_L",
        invoice_id=invoice["id"],
        api_version=s.LEGACY,
        charge_id="ch_L",
    )
    bridge.post_stripe(s.event("charge.refunded", partial, s.LEGACY))
    bridge.drain()
    assert bridge.active_transactions() == {f"{key}-r1": (75.0, "user-3")}
    full = {**partial, "amount_refunded": 12000, "refunded": True}
    bridge.post_stripe(s.event("charge.refunded", full, s.LEGACY))
    bridge.post_stripe(s.event("charge.refunded", partial, s.LEGACY))  # late, older total: ignored
    bridge.drain()
    assert bridge.active_transactions() == {}


def test_basil_refund_of_a_subscription_payment_uses_invoice_payment_link(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-4", partner_key="partner-d", stripe_customer_id="cus_B")
    invoice = s.invoice(amount_paid=2000, customer="cus_B")
    link = s.invoice_payment(invoice_id=invoice["id"], payment_intent="pi_B", amount_paid=2000)
    for event in (s.event("invoice.paid", invoice), s.event("invoice_payment.paid", link)):
        assert bridge.post_stripe(event)["statusCode"] == 200
    # The sale's ledger entry is the forwarder's to write (it rides in the message): the
    # refund comes after it was forwarded, as it does outside a test.
    bridge.drain()
    refund = s.charge(amount=2000, amount_refunded=2000, payment_intent="pi_B")
    reply = _body(bridge.post_stripe(s.event("charge.refunded", refund)))
    assert reply["transaction_key"] == f"stripe-{invoice['id']}" and "reason" not in reply
    bridge.drain()
    state = bridge.sandbox_state()["transactions"]
    assert state[f"stripe-{invoice['id']}"]["deleted_at"] is not None


def test_refund_before_sale_ends_with_the_net_commission(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-5", partner_key="partner-e", stripe_customer_id="cus_R")
    session = s.checkout_session(amount_total=1000, customer="cus_R")
    refund = s.charge(amount=1000, amount_refunded=400, payment_intent=session["payment_intent"])
    early = _body(bridge.post_stripe(s.event("charge.refunded", refund)))
    assert early["outcome"] == "enqueued" and early["reason"].startswith("no sale seen for this payment yet")
    bridge.drain()
    assert bridge.active_transactions() == {}
    bridge.post_stripe(s.event("checkout.session.completed", session))
    bridge.drain()
    assert bridge.active_transactions() == {f"stripe-{session['payment_intent']}": (6.0, "user-5")}


def test_lost_dispute_reverses(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-6", partner_key="partner-f", stripe_customer_id="cus_D")
    session = s.checkout_session(amount_total=5000, customer="cus_D")
    bridge.post_stripe(s.event("checkout.session.completed", session))
    charge_id = "ch_D"
    for status in ("warning_needs_response", "under_review", "lost"):
        dispute = s.dispute(amount=5000, status=status, charge_id=charge_id, payment_intent=session["payment_intent"])
        dispute["id"] = "dp_same"
        bridge.post_stripe(s.event("charge.dispute.closed" if status == "lost" else "charge.dispute.updated", dispute))
    bridge.drain()
    assert bridge.active_transactions() == {}


def test_unreferred_payment_is_recorded_and_not_forwarded(bridge: Bridge) -> None:
    response = bridge.post_stripe(s.event("invoice.paid", s.invoice(amount_paid=900, customer="cus_unknown")))
    assert response["statusCode"] == 200 and _body(response)["outcome"] == "unattributed"
    assert bridge.queue_depth() == 0
    bridge.drain()
    assert bridge.sandbox_state()["transactions"] == {}


def test_zero_decimal_and_three_decimal_amounts_reach_the_api_in_major_units(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-7", partner_key="partner-g", stripe_customer_id="cus_Z")
    jpy = s.checkout_session(amount_total=5000, currency="jpy", customer="cus_Z")
    kwd = s.checkout_session(amount_total=12345, currency="kwd", customer="cus_Z")
    bridge.post_stripe(s.event("checkout.session.completed", jpy))
    bridge.post_stripe(s.event("checkout.session.completed", kwd))
    bridge.drain()
    transactions = bridge.sandbox_state()["transactions"]
    assert (
        transactions[f"stripe-{jpy['payment_intent']}"]["amount"],
        transactions[f"stripe-{jpy['payment_intent']}"]["amount_units"],
    ) == (5000, "JPY")
    assert transactions[f"stripe-{kwd['payment_intent']}"]["amount"] == 12.345


def test_affiliate_api_outage_is_retried_then_forwarded_once(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-8", partner_key="partner-h", stripe_customer_id="cus_O")
    bridge.inject_fault(503, count=2, retry_after=0)
    session = s.checkout_session(amount_total=3000, customer="cus_O")
    bridge.post_stripe(s.event("checkout.session.completed", session))
    bridge.drain()
    assert bridge.active_transactions() == {f"stripe-{session['payment_intent']}": (30.0, "user-8")}
    assert bridge.queue_depth(bridge.resources.dead_letter_queue_url) == 0


def test_permanent_rejection_goes_to_the_dead_letter_queue_with_the_reason(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-9", partner_key="partner-i", stripe_customer_id="cus_P")
    bridge.inject_fault(403, count=1)
    session = s.checkout_session(amount_total=3000, customer="cus_P")
    bridge.post_stripe(s.event("checkout.session.completed", session))
    bridge.drain()
    assert bridge.active_transactions() == {}
    dead = bridge.sqs.receive_message(
        QueueUrl=bridge.resources.dead_letter_queue_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert len(dead) == 1
    assert dead[0]["MessageAttributes"]["failure_reason"]["StringValue"] == "affiliate_api_rejected"
    assert dead[0]["MessageAttributes"]["failure_status"]["StringValue"] == "403"
    assert json.loads(dead[0]["Body"])["transaction_key"] == f"stripe-{session['payment_intent']}"


def test_repeated_retryable_failures_end_in_the_dead_letter_queue_by_redrive(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-10", partner_key="partner-j", stripe_customer_id="cus_F")
    bridge.inject_fault(500, count=100)
    bridge.post_stripe(s.event("checkout.session.completed", s.checkout_session(amount_total=100, customer="cus_F")))
    bridge.drain(timeout=15)
    assert bridge.queue_depth() == 0
    assert bridge.queue_depth(bridge.resources.dead_letter_queue_url) == 1


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ('{"schema_version": 99, "provider": "stripe"}', "unknown schema_version 99"),
        ("not json at all", "not JSON"),
        ('{"schema_version": 1, "provider": "stripe"}', "does not match schema 1"),
    ],
)
def test_unreadable_messages_go_to_the_dead_letter_queue_with_the_reason(
    bridge: Bridge, body: str, detail: str
) -> None:
    bridge.sqs.send_message(
        QueueUrl=bridge.resources.queue_url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId="d"
    )
    bridge.drain()
    assert bridge.queue_depth() == 0
    [dead] = bridge.sqs.receive_message(QueueUrl=bridge.resources.dead_letter_queue_url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert dead["Body"] == body
    assert dead["MessageAttributes"]["failure_reason"]["StringValue"] == "unreadable_message"
    assert detail in dead["MessageAttributes"]["failure_detail"]["StringValue"]


def test_a_message_round_trips_through_the_schema() -> None:
    from affiliate_bridge.domain.facts import ReversalFacts, SaleFacts
    from affiliate_bridge.domain.messages import TransactionMessage

    sale = TransactionMessage(
        "stripe", "evt_1", "invoice.paid", "stripe-in_1", 5, sale=SaleFacts(1, 1, "USD", "c", "p", "email")
    )
    reversal = TransactionMessage(
        "stripe", "evt_2", "charge.refunded", "stripe-in_1", 6, reversal=ReversalFacts("refund", "ch", 1, "USD")
    )
    for message in (sale, reversal):
        assert TransactionMessage.from_json(message.to_json()) == message
    assert json.loads(sale.to_json())["kind"] == "sale"


def test_invoice_paid_and_invoice_payment_succeeded_together_stay_one_transaction(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="both-1", partner_key="ann", stripe_customer_id="cus_both")
    invoice = s.invoice(amount_paid=4900, customer="cus_both")
    for event_type in ("invoice.payment_succeeded", "invoice.paid", "invoice.payment_succeeded"):
        assert bridge.post_stripe(s.event(event_type, invoice))["statusCode"] == 200
    bridge.drain()
    assert bridge.active_transactions() == {f"stripe-{invoice['id']}": (49.0, "both-1")}


def test_a_batch_of_routine_retries_reports_failures_instead_of_raising(bridge: Bridge) -> None:
    """Every record waits for a busy API: the function must not error (the Lambda Errors
    alarm would fire on every 503); each record is reported failed and retried."""
    bridge.add_referral(customer_key="busy-1", partner_key="ann", stripe_customer_id="cus_busy")
    bridge.inject_fault(503, count=1, retry_after=0)
    bridge.post_stripe(s.event("checkout.session.completed", s.checkout_session(amount_total=700, customer="cus_busy")))
    first = bridge.mapping.poll_once()
    assert (first.received, first.failed, first.handler_error) == (1, 1, None)
    bridge.drain()
    assert list(bridge.active_transactions().values()) == [(7.0, "busy-1")]


def test_an_unexpected_failure_is_logged_with_its_reason_and_counted(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from affiliate_bridge.storage.payment_states import PaymentStateStore
    from tests.integration.test_observability import _json_lines, logs_to_current_stdout

    bridge.add_referral(customer_key="bug-1", partner_key="ann", stripe_customer_id="cus_bug")
    bridge.post_stripe(s.event("checkout.session.completed", s.checkout_session(amount_total=700, customer="cus_bug")))

    def broken(self: PaymentStateStore, transaction_key: str) -> None:
        raise RuntimeError("DynamoDB is having a day")

    monkeypatch.setattr(PaymentStateStore, "load", broken)
    capsys.readouterr()
    with logs_to_current_stdout():
        result = bridge.mapping.poll_once()
    lines = _json_lines(capsys.readouterr().out)
    assert (result.failed, result.handler_error) == (1, None)
    failures = [line for line in lines if line.get("message") == "message failed: SQS will retry it"]
    assert (
        failures and failures[0]["reason"] == "RuntimeError" and "DynamoDB is having a day" in failures[0]["exception"]
    )
    assert any("ForwardErrors" in json.dumps(line.get("_aws", {})) for line in lines)


def test_records_are_handed_back_untouched_when_the_invocation_is_about_to_time_out(bridge: Bridge) -> None:
    from affiliate_bridge_dev.event_source_mapping import EventSourceMapping

    bridge.add_referral(customer_key="late-1", partner_key="ann", stripe_customer_id="cus_late")
    for amount in (100, 200, 300):
        bridge.post_stripe(
            s.event("checkout.session.completed", s.checkout_session(amount_total=amount, customer="cus_late"))
        )
    # Ten seconds left, less than one API call may take (PARTNERO_TIMEOUT_SECONDS + 5).
    hurried = EventSourceMapping(
        bridge.sqs, bridge.resources.queue_url, bridge.forwarder, batch_size=10, function_timeout_seconds=10
    )
    result = hurried.poll_once()
    assert (result.received, result.failed, result.handler_error) == (3, 3, None)
    assert bridge.sandbox_state()["transactions"] == {}
    assert bridge.table_items() and not any(i["pk"]["S"].startswith(keys.PAYMENT) for i in bridge.table_items())
    bridge.drain()  # visible again at once, and forwarded by a normal invocation
    assert sorted(amount for amount, _ in bridge.active_transactions().values()) == [1.0, 2.0, 3.0]


def _dynamodb_writes_during(bridge: Bridge, monkeypatch: pytest.MonkeyPatch, event: dict) -> list[tuple[str, str]]:
    """The (operation, sort key) of each DynamoDB write the webhook makes for one event."""
    from botocore.client import BaseClient

    writes: list[tuple[str, str]] = []
    real = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: dict) -> dict:
        if client.meta.service_model.service_name == "dynamodb" and operation in ("PutItem", "UpdateItem"):
            where = params.get("Item") or params.get("Key") or {}
            writes.append((operation, where.get("sk", {}).get("S", "")))
        for entry in params.get("TransactItems", []):
            ((kind, request),) = entry.items()
            where = request.get("Item") or request.get("Key") or {}
            writes.append((f"Transact{kind}", where.get("sk", {}).get("S", "")))
        return real(client, operation, params)  # type: ignore[no-any-return]

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    response = bridge.post_stripe(event)
    monkeypatch.setattr(BaseClient, "_make_api_call", real)
    assert response["statusCode"] == 200, response
    return writes


def test_a_provider_customer_id_is_learned_once_and_not_rewritten_on_each_sale(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Matched by the merchant's key: the Stripe customer id is remembered on the first sale
    that brings it (so renewals without the key still match), and a sale whose id already
    names the customer writes nothing (its ledger entry rides in the message)."""
    bridge.add_referral(customer_key="user-learn", partner_key="partner-l")

    def sale(n: int) -> dict:
        invoice = s.invoice(amount_paid=1000 + n, customer="cus_learn", metadata={"customer_key": "user-learn"})
        return s.event("invoice.paid", invoice)

    first = _dynamodb_writes_during(bridge, monkeypatch, sale(1))
    alias_sk = keys.alias("stripe_customer", "cus_learn").sk
    assert ("TransactPut", alias_sk) in first, first  # with the partner's copy
    second = _dynamodb_writes_during(bridge, monkeypatch, sale(2))
    assert second == [], second
    # A renewal that carries only the Stripe customer id is still attributed.
    renewal = s.event("invoice.paid", s.invoice(amount_paid=1003, customer="cus_learn"))
    assert _body(bridge.post_stripe(renewal))["outcome"] == "enqueued"
    bridge.drain()
    assert sorted(customer for _, customer in bridge.active_transactions().values()) == ["user-learn"] * 3
