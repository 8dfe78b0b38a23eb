"""Paddle notifications -> domain facts, on the SDK fixtures and constructed cases."""

from __future__ import annotations

from typing import Any

import pytest

from affiliate_bridge.domain.events import (
    CustomerProfile,
    DisputeStatus,
    EventRules,
    Ignored,
    Payment,
    Reversal,
    ReversalReason,
)
from affiliate_bridge.errors import MalformedEvent
from affiliate_bridge.providers.paddle.events import normalise_paddle_event
from affiliate_bridge_dev import paddle_samples as p
from tests.conftest import fixture_json

RULES = EventRules()


def test_fixture_transaction_completed() -> None:
    result = normalise_paddle_event(fixture_json("paddle_transaction.completed.json"), RULES)
    assert isinstance(result, Payment)
    assert result.transaction_key == "paddle-txn_01h8dzxgkvdwemdhbpcapj2tbj"
    assert (result.paid.amount_minor, result.commissionable.amount_minor, result.paid.currency) == (65215, 59900, "USD")
    assert result.customer.provider_customer_id == "ctm_01h8e18bxp9hby49dnm8ewf0m0"
    assert result.customer.email is None
    assert result.occurred_at == 1692688545


def test_fixture_transaction_paid_gbp() -> None:
    result = normalise_paddle_event(fixture_json("paddle_transaction.paid.json"), RULES)
    assert isinstance(result, Payment)
    assert (result.paid.amount_minor, result.commissionable.amount_minor, result.paid.currency) == (89880, 74900, "GBP")


def test_paid_and_completed_for_one_transaction_share_a_key() -> None:
    data = p.transaction(total=1000)
    paid = normalise_paddle_event(p.notification("transaction.paid", {**data, "status": "paid"}), RULES)
    completed = normalise_paddle_event(p.notification("transaction.completed", data), RULES)
    assert isinstance(paid, Payment) and isinstance(completed, Payment)
    assert paid.transaction_key == completed.transaction_key


def test_fixture_sdk_entity_wrapped_like_the_sdk_test() -> None:
    envelope: dict[str, Any] = {
        "data": fixture_json("paddle_pysdk_entity_transaction.completed.data.json"),
        "notification_id": "ntf_01h8bkrfe7w1vwf8xmytwn51e7",
        "event_type": "transaction.completed",
        "event_id": "evt_01h8bzakzx3hm2fmen703n5q45",
        "occurred_at": "2023-08-21T11:57:47.390028Z",
    }
    result = normalise_paddle_event(envelope, RULES)
    assert isinstance(result, Payment) and result.transaction_key == "paddle-txn_01hv8wptq8987qeep44cyrewp9"
    envelope["data"] = fixture_json("paddle_pysdk_entity_adjustment.created.data.json")
    envelope["event_type"] = "adjustment.created"
    assert isinstance(normalise_paddle_event(envelope, RULES), Ignored)  # pending_approval


def test_fixture_adjustments_pending_then_approved() -> None:
    pending = normalise_paddle_event(fixture_json("paddle_adjustment.created.json"), RULES)
    assert isinstance(pending, Ignored) and "pending_approval" in pending.reason
    approved = normalise_paddle_event(fixture_json("paddle_adjustment.updated.json"), RULES)
    assert isinstance(approved, Reversal)
    assert approved.reason is ReversalReason.REFUND
    assert approved.source_id == "adj_01h8c6tbrkpdd7vx61w7b1r0ap"
    assert approved.reversed.amount_minor == 100
    assert approved.payment_refs == ("txn_01h8bxpvx398a7zbawb77y0kp5",)


def test_fixture_customer_created() -> None:
    result = normalise_paddle_event(fixture_json("paddle_customer.created.json"), RULES)
    assert isinstance(result, CustomerProfile)
    assert (result.provider_customer_id, result.email) == ("ctm_01h8441jn5pcwrfhwh78jqt8hk", "sam@example.com")


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [
        ("refund", "rejected", None),
        ("refund", "pending_approval", None),
        ("credit", "approved", None),
        ("chargeback_warning", "approved", None),
        ("chargeback", "approved", DisputeStatus.LOST),
        ("chargeback_reverse", "approved", DisputeStatus.WON),
    ],
)
def test_adjustment_actions(action: str, status: str, expected: DisputeStatus | None) -> None:
    data = p.adjustment(transaction_id="txn_01x", total=500, action=action, status=status)
    result = normalise_paddle_event(p.notification("adjustment.updated", data), RULES)
    if expected is None:
        assert isinstance(result, Ignored)
    else:
        assert isinstance(result, Reversal) and result.dispute_status is expected
        assert result.source_id == "txn_01x-chargeback"


def test_custom_data_keys_are_configurable() -> None:
    data = p.transaction(total=100, custom_data={"uid": "user-9", "ref": "partner-x"})
    default = normalise_paddle_event(p.notification("transaction.completed", data), RULES)
    assert isinstance(default, Payment) and default.customer.customer_key is None
    custom = normalise_paddle_event(
        p.notification("transaction.completed", data), EventRules(customer_key_field="uid", partner_key_field="ref")
    )
    assert isinstance(custom, Payment)
    assert (custom.customer.customer_key, custom.customer.partner_hint) == ("user-9", "partner-x")


@pytest.mark.parametrize(("currency", "total"), [("JPY", 3000), ("KWD", 12345), ("EUR", 1999)])
def test_currencies_stay_in_lowest_denomination(currency: str, total: int) -> None:
    result = normalise_paddle_event(
        p.notification("transaction.completed", p.transaction(total=total, currency=currency)), RULES
    )
    assert isinstance(result, Payment) and result.paid.amount_minor == total and result.paid.currency == currency


def test_tax_included_when_configured() -> None:
    event = p.notification("transaction.completed", p.transaction(total=1200, tax=200))
    result = normalise_paddle_event(event, EventRules(commission_excludes_tax=False))
    assert isinstance(result, Payment) and result.commissionable.amount_minor == 1200


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.pop("event_id"),
        lambda e: e.update(data=[]),
        lambda e: e["data"].update(id="not-a-txn"),
        lambda e: e["data"].pop("details"),
        lambda e: e["data"]["details"]["totals"].update(grand_total=12.5),
        lambda e: e["data"].update(currency_code="usd dollars"),
    ],
)
def test_malformed(mutate: Any) -> None:
    event = p.notification("transaction.completed", p.transaction(total=100))
    mutate(event)
    with pytest.raises(MalformedEvent):
        normalise_paddle_event(event, RULES)


def test_unknown_event_type_is_ignored() -> None:
    assert isinstance(normalise_paddle_event(p.notification("subscription.updated", {"id": "sub_1"}), RULES), Ignored)
