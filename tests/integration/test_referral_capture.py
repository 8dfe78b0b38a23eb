"""Referral capture and late attribution: every order of arrival ends with exactly the
right customer, partner and transactions at the affiliate API, and none beyond them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from affiliate_bridge.storage import keys
from affiliate_bridge.storage.dynamo import key as dynamo_key
from affiliate_bridge_dev import paddle_samples as p
from affiliate_bridge_dev import stripe_samples as s
from tests.integration.conftest import REFERRALS_TOKEN, Bridge


def _body(response: dict) -> dict:
    return json.loads(response["body"])  # type: ignore[no-any-return]


def _platform_customer(
    event: str, key: str, partner: str | None, email: str | None = None, at: str = "2026-11-23T10:00:00.000000Z"
) -> dict:
    data = {"key": key, "email": email, "deleted": event == "customer.deleted", "status": "active"}
    if partner:
        data["partner"] = partner
    return {
        "event": event,
        "url": "https://bridge.example/partnero",
        "webhook_key": "wh_test",
        "created_at": at,
        "data": data,
    }


def test_payment_before_referral_is_parked_then_forwarded_once(bridge: Bridge) -> None:
    session = s.checkout_session(amount_total=3000, customer="cus_LATE", email="late@example.com")
    assert _body(bridge.post_stripe(s.event("checkout.session.completed", session)))["outcome"] == "unattributed"
    bridge.drain()
    assert bridge.sandbox_state()["transactions"] == {}

    first = bridge.add_referral(customer_key="user-late", partner_key="anna", email="Late@Example.com")
    key = f"stripe-{session['payment_intent']}"
    assert _body(first)["released_payments"] == [key]
    again = bridge.add_referral(customer_key="user-late", partner_key="anna", email="late@example.com")
    assert _body(again)["released_payments"] == []  # a retry releases nothing twice
    bridge.drain()
    assert bridge.active_transactions() == {key: (30.0, "user-late")}
    assert bridge.sandbox_state()["customers"]["user-late"]["partner"] == "anna"
    event = bridge.dynamodb.get_item(
        TableName=bridge.resources.table_name,
        Key=dynamo_key(keys.event("stripe", _event_id(bridge, key))),
    )["Item"]
    assert event["outcome"]["S"] == "enqueued_late" and event["attribution_rule"]["S"] == "late:email"


def _event_id(bridge: Bridge, transaction_key: str) -> str:
    for item in bridge.table_items():
        pk = str(item["pk"]["S"])
        if pk.startswith(keys.EVENT) and item.get("transaction_key", {}).get("S") == transaction_key:
            return keys.event_id_of(pk)
    raise AssertionError("no event for " + transaction_key)


def test_parked_payment_past_its_window_is_not_released(bridge: Bridge) -> None:
    session = s.checkout_session(amount_total=3000, customer="cus_OLD")
    bridge.post_stripe(s.event("checkout.session.completed", session))
    for item in bridge.table_items():
        if item["pk"]["S"].startswith(keys.PARKED):
            item[keys.TTL_ATTRIBUTE] = {"N": str(int(time.time()) - 1)}
            bridge.dynamodb.put_item(TableName=bridge.resources.table_name, Item=item)
    assert (
        _body(bridge.add_referral(customer_key="u-old", partner_key="p", stripe_customer_id="cus_OLD"))[
            "released_payments"
        ]
        == []
    )
    bridge.drain()
    assert bridge.sandbox_state()["transactions"] == {}


def test_refund_of_a_parked_payment_is_netted_when_it_is_released(bridge: Bridge) -> None:
    session = s.checkout_session(amount_total=1000, customer="cus_NET")
    bridge.post_stripe(s.event("checkout.session.completed", session))
    refund = s.charge(amount=1000, amount_refunded=250, payment_intent=session["payment_intent"])
    bridge.post_stripe(s.event("charge.refunded", refund))
    bridge.add_referral(customer_key="u-net", partner_key="p", stripe_customer_id="cus_NET")
    bridge.drain()
    assert bridge.active_transactions() == {f"stripe-{session['payment_intent']}": (7.5, "u-net")}


def test_paddle_payment_before_referral_matched_by_email_from_customer_events(bridge: Bridge) -> None:
    bridge.post_paddle(
        p.notification("customer.created", p.customer(customer_id="ctm_01late", email="pad@example.com"))
    )
    sale = p.notification("transaction.completed", p.transaction(total=2000, customer_id="ctm_01late"))
    assert _body(bridge.post_paddle(sale))["outcome"] == "unattributed"
    released = _body(bridge.add_referral(customer_key="u-pad", partner_key="ben", email="pad@example.com"))
    assert released["released_payments"] == [f"paddle-{sale['data']['id']}"]
    bridge.drain()
    assert bridge.active_transactions() == {f"paddle-{sale['data']['id']}": (20.0, "u-pad")}


def test_platform_webhook_instead_of_backend_call(bridge: Bridge) -> None:
    created = bridge.post_platform(_platform_customer("customer.created", "plat-1", "cleo", "p1@example.com"))
    assert created["statusCode"] == 200 and _body(created)["outcome"] == "created"
    session = s.checkout_session(amount_total=5000, email="p1@example.com")
    assert _body(bridge.post_stripe(s.event("checkout.session.completed", session)))["outcome"] == "enqueued"
    bridge.drain()
    assert bridge.active_transactions() == {f"stripe-{session['payment_intent']}": (50.0, "plat-1")}

    # The platform reassigns the customer: later sales follow it.
    updated = bridge.post_platform(
        _platform_customer("customer.updated", "plat-1", "dora", "p1@example.com", at="2026-11-23T10:05:00Z")
    )
    assert _body(updated)["outcome"] == "updated" and _body(updated)["partner_key"] == "dora"
    later = s.checkout_session(amount_total=1000, email="p1@example.com")
    bridge.post_stripe(s.event("checkout.session.completed", later))
    bridge.drain()
    assert bridge.sandbox_state()["transactions"][f"stripe-{later['payment_intent']}"]["customer"] == "plat-1"
    # Deleted at the platform: no longer attributed (and parked, should it come back).
    deleted = bridge.post_platform(_platform_customer("customer.deleted", "plat-1", None, at="2026-11-23T10:09:00Z"))
    assert _body(deleted)["outcome"] == "deleted"
    gone = s.checkout_session(amount_total=1000, email="p1@example.com")
    assert _body(bridge.post_stripe(s.event("checkout.session.completed", gone)))["outcome"] == "unattributed"


def test_a_sale_parked_while_a_deleted_customer_s_alias_claims_its_email_is_released_on_return(
    bridge: Bridge,
) -> None:
    """The deleted customer's email alias still exists, so parking's claim check fails
    every time and the sale takes the long road (park, look again, find no referral in
    force). It must still be parked, and released once when the platform brings the
    customer back."""
    bridge.post_platform(_platform_customer("customer.created", "plat-9", "gil", "p9@example.com"))
    deleted = bridge.post_platform(_platform_customer("customer.deleted", "plat-9", None, at="2026-11-23T10:09:00Z"))
    assert _body(deleted)["outcome"] == "deleted"
    sale = s.checkout_session(amount_total=4200, email="p9@example.com")
    answer = _body(bridge.post_stripe(s.event("checkout.session.completed", sale)))
    assert answer["outcome"] == "unattributed" and "parked" in answer["reason"]
    bridge.drain()
    assert bridge.sandbox_state()["transactions"] == {}

    back = bridge.post_platform(
        _platform_customer("customer.created", "plat-9", "gil", "p9@example.com", at="2026-11-23T10:12:00Z")
    )
    key = f"stripe-{sale['payment_intent']}"
    assert _body(back)["released_payments"] == [key]
    bridge.drain()
    assert bridge.active_transactions() == {key: (42.0, "plat-9")}


def test_platform_webhook_with_a_bad_signature_changes_nothing(bridge: Bridge) -> None:
    body = _platform_customer("customer.created", "plat-2", "eve")
    for secret in (None, "not-the-secret"):
        response = bridge.post_platform(body, secret=secret)
        assert response["statusCode"] == 400
    assert bridge.table_items() == []
    malformed = bridge.post_platform({"event": "customer.created", "data": {"key": "x"}})
    assert malformed["statusCode"] == 400 and _body(malformed)["error"] == "malformed_event"
    other = bridge.post_platform({"event": "partner.created", "data": {"id": "partner_1"}})
    assert other["statusCode"] == 200 and _body(other)["outcome"] == "ignored"


def test_checkout_with_a_partner_key_and_no_signup(bridge: Bridge) -> None:
    session = s.checkout_session(
        amount_total=9900, customer="cus_CO", metadata={"partner_key": "fay"}, email="co@example.com"
    )
    response = bridge.post_stripe(s.event("checkout.session.completed", session))
    assert _body(response)["outcome"] == "enqueued"
    bridge.drain()
    state = bridge.sandbox_state()
    assert state["customers"]["cus_CO"]["partner"] == "fay"
    assert bridge.active_transactions() == {f"stripe-{session['payment_intent']}": (99.0, "cus_CO")}
    create_calls = [r for r in bridge.sandbox.state.requests if r["path"] == "/v1/transactions"]
    assert create_calls[0]["body"]["options"] == {"create_customer": True}

    renewal = s.invoice(amount_paid=9900, customer="cus_CO", email="co@example.com")
    assert _body(bridge.post_stripe(s.event("invoice.paid", renewal)))["outcome"] == "enqueued"
    bridge.drain()
    assert bridge.active_transactions()[f"stripe-{renewal['id']}"] == (99.0, "cus_CO")


def test_client_reference_id_as_partner_key_is_opt_in(bridge: Bridge) -> None:
    session = s.checkout_session(amount_total=1000, customer="cus_REF", client_reference_id="gus")
    assert _body(bridge.post_stripe(s.event("checkout.session.completed", session)))["outcome"] == "unattributed"


@pytest.mark.bridge_env(STRIPE_CLIENT_REFERENCE_IS_PARTNER_KEY="true")
def test_client_reference_id_as_partner_key_when_configured(bridge: Bridge) -> None:
    session = s.checkout_session(amount_total=1000, customer="cus_REF", client_reference_id="gus")
    assert _body(bridge.post_stripe(s.event("checkout.session.completed", session)))["outcome"] == "enqueued"
    bridge.drain()
    assert bridge.sandbox_state()["customers"]["cus_REF"]["partner"] == "gus"


def test_renewal_after_an_email_change_still_matches(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="u-mail", partner_key="hal", email="old@example.com")
    first = s.invoice(amount_paid=1500, customer="cus_MAIL", email="old@example.com")
    assert _body(bridge.post_stripe(s.event("invoice.paid", first)))["outcome"] == "enqueued"
    renewal = s.invoice(amount_paid=1500, customer="cus_MAIL", email="new@example.com")
    assert _body(bridge.post_stripe(s.event("invoice.paid", renewal)))["outcome"] == "enqueued"
    bridge.drain()
    assert bridge.active_transactions() == {
        f"stripe-{first['id']}": (15.0, "u-mail"),
        f"stripe-{renewal['id']}": (15.0, "u-mail"),
    }


def test_two_partners_claiming_one_customer(bridge: Bridge) -> None:
    assert (
        bridge.add_referral(customer_key="u-two", partner_key="ivy", stripe_customer_id="cus_TWO")["statusCode"] == 201
    )
    conflict = bridge.add_referral(customer_key="u-two", partner_key="jon", stripe_customer_id="cus_TWO")
    assert conflict["statusCode"] == 409
    assert _body(conflict)["partner_key"] == "ivy" and "first touch" in _body(conflict)["message"]
    conflicts = [i for i in bridge.table_items() if i["sk"]["S"].startswith(keys.CONFLICT)]
    assert len(conflicts) == 1 and conflicts[0]["claimed_partner_key"]["S"] == "jon"
    bridge.post_stripe(s.event("invoice.paid", s.invoice(amount_paid=800, customer="cus_TWO")))
    bridge.drain()
    assert [c["partner"] for c in bridge.sandbox_state()["customers"].values()] == ["ivy"]


@pytest.mark.bridge_env(ATTRIBUTION_LAST_TOUCH="true")
def test_last_touch_when_configured(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="u-last", partner_key="ivy")
    updated = bridge.add_referral(customer_key="u-last", partner_key="jon")
    assert updated["statusCode"] == 200 and _body(updated) == {
        "outcome": "updated",
        "customer_key": "u-last",
        "partner_key": "jon",
        "released_payments": [],
    }


@pytest.mark.bridge_env(CREATE_CUSTOMER_ON_REFERRAL="true")
def test_signups_can_be_mirrored_at_the_affiliate_api(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="u-mirror", partner_key="kim", email="m@example.com")
    bridge.add_referral(customer_key="u-mirror", partner_key="kim")  # unchanged: not mirrored twice
    bridge.drain()
    customers = bridge.sandbox_state()["customers"]
    assert list(customers) == ["u-mirror"]
    assert (customers["u-mirror"]["partner"], customers["u-mirror"]["email"]) == ("kim", "m@example.com")
    assert len([r for r in bridge.sandbox.state.requests if r["path"] == "/v1/customers"]) == 1


@pytest.mark.parametrize(
    ("body", "authorization", "status", "error"),
    [
        (b'{"customer_key":"a","partner_key":"b"}', None, 401, "unauthorized"),
        (b'{"customer_key":"a","partner_key":"b"}', "Bearer wrong", 401, "unauthorized"),
        (b'{"customer_key":"a","partner_key":"b"}', f"Basic {REFERRALS_TOKEN}", 401, "unauthorized"),
        (b'{"partner_key":"b"}', f"Bearer {REFERRALS_TOKEN}", 400, "missing_field"),
        (b'{"customer_key":"a","partner_key":7}', f"Bearer {REFERRALS_TOKEN}", 400, "invalid_field"),
        (b'{"customer_key":"a","partner_key":"b","email":"nope"}', f"Bearer {REFERRALS_TOKEN}", 400, "invalid_field"),
        (
            b'{"customer_key":"' + b"x" * 300 + b'","partner_key":"b"}',
            f"Bearer {REFERRALS_TOKEN}",
            400,
            "invalid_field",
        ),
        (b"not json", f"Bearer {REFERRALS_TOKEN}", 400, "invalid_json"),
        (b"{" + b" " * 70_000 + b"}", f"Bearer {REFERRALS_TOKEN}", 413, "body_too_large"),
    ],
)
def test_bad_referral_requests_change_nothing(
    bridge: Bridge, body: bytes, authorization: str | None, status: int, error: str
) -> None:
    response = bridge.post_referral_raw(body, authorization)
    assert (response["statusCode"], _body(response)["error"]) == (status, error)
    assert bridge.table_items() == [] and bridge.queue_depth() == 0


def test_get_on_referrals_is_405(bridge: Bridge) -> None:
    assert bridge.post_referral_raw(b"", f"Bearer {REFERRALS_TOKEN}", method="GET")["statusCode"] == 405


def _partner_of(bridge: Bridge, customer_key: str) -> tuple[str | None, bool]:
    for item in bridge.table_items():
        if (item["pk"]["S"], item["sk"]["S"]) == keys.referral(customer_key):
            return item.get("partner_key", {}).get("S"), item.get("deleted", {}).get("BOOL", False)
    return None, False


def _stale_records(bridge: Bridge, customer_key: str) -> int:
    return sum(
        1
        for item in bridge.table_items()
        if item["pk"]["S"] == keys.customer(customer_key) and item["sk"]["S"].startswith(keys.STALE)
    )


def test_a_late_retry_of_an_older_update_does_not_undo_a_reassignment(bridge: Bridge) -> None:
    t1, t2, t3 = "2026-11-23T10:00:00Z", "2026-11-23T10:00:01.500Z", "2026-11-23T10:00:02Z"
    assert _body(bridge.post_platform(_platform_customer("customer.created", "ord-1", "ann", at=t1)))["outcome"] == (
        "created"
    )
    assert _body(bridge.post_platform(_platform_customer("customer.updated", "ord-1", "cat", at=t3)))["outcome"] == (
        "updated"
    )
    late = bridge.post_platform(_platform_customer("customer.updated", "ord-1", "bob", at=t2))
    assert late["statusCode"] == 200 and _body(late)["outcome"] == "stale"
    assert _partner_of(bridge, "ord-1") == ("cat", False)
    # The same delivery again (a plain retry) changes nothing either.
    again = bridge.post_platform(_platform_customer("customer.updated", "ord-1", "cat", at=t3))
    assert _body(again)["outcome"] == "unchanged"
    # An older created that confirms nothing new is stale too, and every stale one is recorded.
    assert _body(bridge.post_platform(_platform_customer("customer.created", "ord-1", "ann", at=t1)))["outcome"] == (
        "stale"
    )
    assert _partner_of(bridge, "ord-1") == ("cat", False)
    assert _stale_records(bridge, "ord-1") == 2

    from affiliate_bridge_dev.operations import explain

    assert len(explain(bridge.dynamodb, bridge.resources.table_name, "ord-1").stale) == 2


def test_a_replayed_created_after_deleted_does_not_revive_the_referral(bridge: Bridge) -> None:
    t1, t2, t3 = "2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z"
    bridge.post_platform(_platform_customer("customer.created", "ord-2", "ann", "o2@example.com", at=t1))
    assert _body(bridge.post_platform(_platform_customer("customer.deleted", "ord-2", None, at=t2)))["outcome"] == (
        "deleted"
    )
    for event, at in (("customer.created", t1), ("customer.updated", t1), ("customer.created", t2)):
        replay = bridge.post_platform(_platform_customer(event, "ord-2", "mallory", "o2@example.com", at=at))
        assert _body(replay)["outcome"] == "stale", (event, at)
    assert _partner_of(bridge, "ord-2") == ("ann", True)
    sale = s.checkout_session(amount_total=1000, email="o2@example.com")
    assert _body(bridge.post_stripe(s.event("checkout.session.completed", sale)))["outcome"] == "unattributed"
    # A genuinely newer creation brings the customer back.
    revived = bridge.post_platform(_platform_customer("customer.created", "ord-2", "zoe", at=t3))
    assert _body(revived)["outcome"] == "created"
    assert _partner_of(bridge, "ord-2") == ("zoe", False)


def test_a_deletion_that_beats_the_creation_leaves_a_tombstone(bridge: Bridge) -> None:
    gone = bridge.post_platform(_platform_customer("customer.deleted", "ord-3", None, at="2026-11-23T10:00:05Z"))
    assert _body(gone)["outcome"] == "unknown_customer"
    late = bridge.post_platform(_platform_customer("customer.created", "ord-3", "ann", at="2026-11-23T10:00:00Z"))
    assert _body(late)["outcome"] == "stale"
    sale = s.checkout_session(amount_total=1000, metadata={"customer_key": "ord-3"})
    assert _body(bridge.post_stripe(s.event("checkout.session.completed", sale)))["outcome"] == "unattributed"


@pytest.mark.bridge_env(CREATE_CUSTOMER_ON_REFERRAL="true")
def test_a_mirror_lost_to_a_failed_enqueue_is_sent_on_the_callers_retry(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    from affiliate_bridge.storage.transactions_queue import TransactionsQueue

    real_send = TransactionsQueue.send
    failures = iter([True])

    def flaky(self: TransactionsQueue, message: Any) -> str:
        if next(failures, False):
            raise RuntimeError("SQS unavailable")
        return real_send(self, message)

    monkeypatch.setattr(TransactionsQueue, "send", flaky)
    first = bridge.add_referral(customer_key="Jörg Müller 42", partner_key="kim", email="j@example.com")
    assert first["statusCode"] == 500  # stored, but the mirror could not be queued: the caller retries
    retry = bridge.add_referral(customer_key="Jörg Müller 42", partner_key="kim", email="j@example.com")
    assert retry["statusCode"] == 200 and _body(retry)["outcome"] == "unchanged"
    bridge.drain()
    customers = bridge.sandbox_state()["customers"]
    assert customers["Jörg Müller 42"]["partner"] == "kim"  # a key SQS refuses as a group id still works


@pytest.mark.bridge_env(ATTRIBUTION_LAST_TOUCH="true")
def test_a_last_touch_reassignment_moves_the_customer_at_the_affiliate_api(bridge: Bridge) -> None:
    """The API cannot change a customer's partner: the old record is set aside (renamed,
    keeping its transactions and their partner) and the customer created under the new one."""
    bridge.add_referral(customer_key="mover", partner_key="old-p", stripe_customer_id="cus_mover")
    first = s.checkout_session(amount_total=1000, customer="cus_mover")
    bridge.post_stripe(s.event("checkout.session.completed", first))
    bridge.drain()
    assert bridge.sandbox_state()["customers"]["mover"]["partner"] == "old-p"
    moved = bridge.add_referral(customer_key="mover", partner_key="new-p", stripe_customer_id="cus_mover")
    assert _body(moved)["outcome"] == "updated"
    bridge.drain()
    second = s.checkout_session(amount_total=2000, customer="cus_mover")
    bridge.post_stripe(s.event("checkout.session.completed", second))
    bridge.drain()
    state = bridge.sandbox_state()
    assert state["customers"]["mover"]["partner"] == "new-p"
    transactions = state["transactions"]
    assert transactions[f"stripe-{first['payment_intent']}"]["partner"] == "old-p"  # earned before the move
    assert transactions[f"stripe-{second['payment_intent']}"]["partner"] == "new-p"
    aside = [key for key in state["customers"] if key.startswith("mover~until-")]
    assert len(aside) == 1 and state["customers"][aside[0]]["partner"] == "old-p"
    # Repeating the reassignment changes nothing more.
    bridge.add_referral(customer_key="mover", partner_key="new-p", stripe_customer_id="cus_mover")
    bridge.drain()
    assert len([key for key in bridge.sandbox_state()["customers"] if key.startswith("mover")]) == 2
