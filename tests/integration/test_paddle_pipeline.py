"""Paddle Billing notifications through the whole pipeline to the sandbox affiliate API."""

from __future__ import annotations

import json
import random

import pytest

from affiliate_bridge_dev import paddle_samples as p
from tests.conftest import fixture_bytes, fixture_json
from tests.integration.conftest import Bridge
from tests.integration.test_no_email_at_rest import emails_at_rest


def _outcome(response: dict) -> str:
    assert response["statusCode"] == 200, response
    return str(json.loads(response["body"])["outcome"])


def test_fixture_transaction_for_a_referred_paddle_customer(bridge: Bridge) -> None:
    event = fixture_json("paddle_transaction.completed.json")
    bridge.add_referral(customer_key="user-p1", partner_key="anna", paddle_customer_id=event["data"]["customer_id"])
    assert _outcome(bridge.post_paddle(event)) == "enqueued"
    bridge.drain()
    assert bridge.active_transactions() == {"paddle-txn_01h8dzxgkvdwemdhbpcapj2tbj": (599.0, "user-p1")}


def test_email_attribution_through_customer_events(bridge: Bridge) -> None:
    customer = fixture_json("paddle_customer.created.json")
    bridge.add_referral(customer_key="user-sam", partner_key="ben", email="SAM@example.com")
    assert _outcome(bridge.post_paddle(customer)) == "profile_updated"
    sale = p.notification("transaction.completed", p.transaction(total=2000, customer_id=customer["data"]["id"]))
    assert _outcome(bridge.post_paddle(sale)) == "enqueued"
    bridge.drain()
    assert bridge.active_transactions() == {f"paddle-{sale['data']['id']}": (20.0, "user-sam")}
    # Any address at all, not only this one: a leak from another path shows here too.
    assert emails_at_rest(bridge) == []


def test_signed_fixture_bytes_are_verified_as_sent(bridge: Bridge) -> None:
    # The SDK's customer.created body, re-signed with our secret, verified on its exact bytes.
    body = fixture_bytes("paddle_sigvec_special_chars_payload.json").rstrip(b"\n")
    assert _outcome(bridge.post_paddle(body)) == "profile_updated"


def test_paid_and_completed_repeated_and_reordered_make_one_transaction(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-p2", partner_key="cleo", paddle_customer_id="ctm_01same")
    data = p.transaction(total=5000, tax=1000, customer_id="ctm_01same")
    deliveries = [
        p.notification("transaction.paid", {**data, "status": "paid"}),
        p.notification("transaction.completed", data),
    ]
    deliveries += deliveries
    random.Random(11).shuffle(deliveries)
    for event in deliveries:
        assert _outcome(bridge.post_paddle(event)) == "enqueued"
    bridge.drain()
    assert bridge.active_transactions() == {f"paddle-{data['id']}": (40.0, "user-p2")}


def test_adjustments_pending_rejected_partial_and_full(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-p3", partner_key="dora", paddle_customer_id="ctm_01adj")
    data = p.transaction(total=10000, customer_id="ctm_01adj")
    key = f"paddle-{data['id']}"
    bridge.post_paddle(p.notification("transaction.completed", data))
    first = p.adjustment(transaction_id=data["id"], total=2500, status="pending_approval")
    assert _outcome(bridge.post_paddle(p.notification("adjustment.created", first))) == "ignored"
    rejected = p.adjustment(transaction_id=data["id"], total=9000, status="rejected")
    assert _outcome(bridge.post_paddle(p.notification("adjustment.updated", rejected))) == "ignored"
    bridge.drain()
    assert bridge.active_transactions() == {key: (100.0, "user-p3")}

    approved = p.notification("adjustment.updated", {**first, "status": "approved"})
    assert _outcome(bridge.post_paddle(approved)) == "enqueued"
    assert _outcome(bridge.post_paddle(approved)) == "enqueued"  # duplicate delivery
    bridge.drain()
    assert bridge.active_transactions() == {f"{key}-r1": (75.0, "user-p3")}

    second = p.adjustment(transaction_id=data["id"], total=7500, status="approved")
    bridge.post_paddle(p.notification("adjustment.created", second))
    bridge.drain()
    assert bridge.active_transactions() == {}


def test_refund_before_sale_and_chargeback_then_reverse(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-p4", partner_key="eve", paddle_customer_id="ctm_01cb")
    data = p.transaction(total=4000, customer_id="ctm_01cb")
    key = f"paddle-{data['id']}"
    refund = p.adjustment(transaction_id=data["id"], total=1000)
    bridge.post_paddle(p.notification("adjustment.created", refund))
    bridge.post_paddle(p.notification("transaction.completed", data))
    bridge.drain()
    assert bridge.active_transactions() == {key: (30.0, "user-p4")}

    chargeback = p.adjustment(transaction_id=data["id"], total=4000, action="chargeback")
    bridge.post_paddle(p.notification("adjustment.created", chargeback, occurred_at=2_000_000_000))
    bridge.drain()
    assert bridge.active_transactions() == {}
    won_back = p.adjustment(transaction_id=data["id"], total=4000, action="chargeback_reverse")
    bridge.post_paddle(p.notification("adjustment.created", won_back, occurred_at=2_000_000_100))
    bridge.drain()
    assert list(bridge.active_transactions().values()) == [(30.0, "user-p4")]


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, "missing_header"),
        ("ts=abc;h1=00", "malformed_header"),
        ("ts=1;v1=00", "no_h1_signature"),
    ],
)
def test_bad_paddle_signatures_store_nothing(bridge: Bridge, header: str | None, error: str) -> None:
    response = bridge.post_paddle(p.notification("transaction.completed", p.transaction(total=1)), signature=header)
    assert response["statusCode"] == 400 and json.loads(response["body"])["error"] == error
    assert bridge.table_items() == [] and bridge.queue_depth() == 0


def test_wrong_environment_secret_is_refused(bridge: Bridge) -> None:
    event = p.notification("transaction.completed", p.transaction(total=1))
    assert bridge.post_paddle(event, secret="pdl_ntfset_sandbox_integration")["statusCode"] == 200
    response = bridge.post_paddle(event, secret="pdl_ntfset_someone_elses")
    assert response["statusCode"] == 400 and json.loads(response["body"])["error"] == "signature_mismatch"
