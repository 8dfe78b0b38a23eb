"""Each row of the README's "Bad input gets" table, against the real handler."""

from __future__ import annotations

import json
import time

import pytest

from affiliate_bridge.storage import keys
from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.lambda_events import FakeLambdaContext, function_url_event
from affiliate_bridge_dev.senders import stripe_signature_header
from tests.integration.conftest import STRIPE_SECRET, Bridge

EVENT = s.event("invoice.paid", s.invoice(amount_paid=1000, customer="cus_1"))
RAW = json.dumps(EVENT).encode()


def _nothing_stored(bridge: Bridge) -> None:
    assert bridge.table_items() == []
    assert bridge.queue_depth() == 0


def _error(response: dict) -> str:
    return str(json.loads(response["body"])["error"])


@pytest.mark.parametrize(
    ("signature", "status", "error"),
    [
        (None, 400, "missing_header"),
        ("t=notanumber,v1=abc", 400, "malformed_header"),
        ("just-garbage", 400, "malformed_header"),
        (stripe_signature_header(RAW, "whsec_wrong"), 400, "signature_mismatch"),
        (
            stripe_signature_header(RAW, STRIPE_SECRET, timestamp=int(time.time()) - 301),
            400,
            "timestamp_outside_tolerance",
        ),
        (stripe_signature_header(RAW, STRIPE_SECRET).replace("v1=", "v0="), 400, "no_v1_signature"),
    ],
    # named, not by their signatures: those depend on the clock, and every test process
    # (pytest-xdist's workers) must collect the same ids
    ids=["no_header", "time_not_a_number", "garbage", "wrong_secret", "too_old", "no_v1"],
)
def test_signature_failures_store_nothing(bridge: Bridge, signature: str | None, status: int, error: str) -> None:
    response = bridge.post_stripe(RAW, signature=signature)
    assert (response["statusCode"], _error(response)) == (status, error)
    _nothing_stored(bridge)


def test_valid_signature_over_non_json(bridge: Bridge) -> None:
    response = bridge.post_stripe(b"this is not json")
    assert (response["statusCode"], _error(response)) == (400, "invalid_json")
    _nothing_stored(bridge)


def test_valid_signature_over_a_json_array(bridge: Bridge) -> None:
    response = bridge.post_stripe(b"[1, 2, 3]")
    assert (response["statusCode"], _error(response)) == (400, "invalid_json")
    _nothing_stored(bridge)


def test_json_without_the_fields_we_need_is_400_and_recorded(bridge: Bridge) -> None:
    broken = json.loads(RAW)
    del broken["data"]["object"]["amount_paid"]
    response = bridge.post_stripe(broken)
    assert (response["statusCode"], _error(response)) == (400, "malformed_event")
    assert bridge.queue_depth() == 0
    [item] = bridge.table_items()
    assert item["outcome"]["S"] == "rejected" and "amount_paid" in item["reason"]["S"]


def test_json_without_an_id_is_400_and_not_recorded(bridge: Bridge) -> None:
    response = bridge.post_stripe({"type": "invoice.paid"})
    assert (response["statusCode"], _error(response)) == (400, "malformed_event")
    _nothing_stored(bridge)


def test_unknown_event_type_is_200_ignored_and_recorded(bridge: Bridge) -> None:
    event = s.event("customer.created", {"id": "cus_1", "object": "customer", "email": "a@example.com"})
    response = bridge.post_stripe(event)
    assert response["statusCode"] == 200 and json.loads(response["body"])["outcome"] == "ignored"
    assert bridge.queue_depth() == 0
    [item] = bridge.table_items()
    assert item["outcome"]["S"] == "ignored" and item["event_type"]["S"] == "customer.created"


def test_body_over_the_limit_is_413(bridge: Bridge) -> None:
    response = bridge.post_stripe(b"{" + b" " * 1_048_577 + b"}")
    assert (response["statusCode"], _error(response)) == (413, "body_too_large")
    _nothing_stored(bridge)


def test_get_is_405(bridge: Bridge) -> None:
    response = bridge.post_stripe(b"", signature=None, method="GET")
    assert response["statusCode"] == 405 and response["headers"]["allow"] == "POST"
    _nothing_stored(bridge)


def test_base64_bodies_are_verified_on_the_decoded_bytes(bridge: Bridge) -> None:
    response = bridge.post_stripe(RAW, force_base64=True)
    assert response["statusCode"] == 200


def test_invalid_base64_is_400(bridge: Bridge) -> None:
    event = function_url_event("POST", "/", RAW, {"stripe-signature": stripe_signature_header(RAW, STRIPE_SECRET)})
    event["isBase64Encoded"] = True
    event["body"] = "%%%not-base64%%%"
    response = bridge.stripe(event, FakeLambdaContext("StripeWebhookFunction"))
    assert (response["statusCode"], _error(response)) == (400, "bad_base64")


def test_queue_outage_is_500_so_stripe_retries(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    bridge.add_referral(customer_key="user-1", partner_key="partner-a", stripe_customer_id="cus_1")
    bridge.sqs.delete_queue(QueueUrl=bridge.resources.queue_url)
    response = bridge.post_stripe(RAW)
    assert (response["statusCode"], _error(response)) == (500, "internal_error")
    events = [i for i in bridge.table_items() if i["pk"]["S"].startswith(keys.EVENT)]
    assert events == []  # the ledger never claims an event it could not enqueue


def test_missing_secret_is_500_not_400(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    response = bridge.post_stripe(RAW)
    assert (response["statusCode"], _error(response)) == (500, "not_configured")
