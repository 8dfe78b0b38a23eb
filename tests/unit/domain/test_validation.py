"""Bounds on normalised events: what would fail later is refused at the webhook (400)."""

import dataclasses

import pytest

from affiliate_bridge.domain.events import CustomerRefs, EventRules, Payment, Reversal, ReversalReason
from affiliate_bridge.domain.money import Money
from affiliate_bridge.domain.referrals import Referral
from affiliate_bridge.domain.validation import validate_event, validate_referral
from affiliate_bridge.errors import MalformedEvent
from affiliate_bridge.providers.paddle.events import normalise_paddle_event
from affiliate_bridge.storage.transactions_queue import message_group_id
from affiliate_bridge_dev.paddle_samples import notification, transaction

PAYMENT = Payment(
    provider="stripe",
    event_id="evt_1",
    event_type="invoice.paid",
    transaction_key="stripe-in_1",
    paid=Money(1000, "USD"),
    commissionable=Money(900, "USD"),
    occurred_at=1_700_000_000,
    customer=CustomerRefs(customer_key="Jörg Müller #7", provider_customer_id="cus_1", email="j@example.com"),
    payment_refs=("pi_1",),
)


def test_a_real_payment_passes() -> None:
    validate_event(PAYMENT)


@pytest.mark.parametrize(
    "change",
    [
        {"event_id": "evt 1"},
        {"event_id": "x" * 256},
        {"event_id": "évt_1"},
        {"transaction_key": "stripe-" + "a" * 300},
        {"payment_refs": ("pi\n1",)},
        {"paid": Money(-1, "USD")},
        {"occurred_at": 10**30},
        {"occurred_at": -5},
        {"customer": CustomerRefs(customer_key="a\x00b")},
        {"customer": CustomerRefs(customer_key="k" * 501)},
        {"customer": CustomerRefs(partner_hint="")},
        {"customer": CustomerRefs(provider_customer_id="cus_" + "1" * 300)},
        {"customer": CustomerRefs(email="not an email")},
        {"customer": CustomerRefs(email="a@b@c")},
        {"customer": CustomerRefs(email="a" * 320 + "@example.com")},
    ],
)
def test_out_of_bounds_payments_are_malformed(change: dict[str, object]) -> None:
    with pytest.raises(MalformedEvent):
        validate_event(dataclasses.replace(PAYMENT, **change))  # type: ignore[arg-type]


def test_a_reversal_must_name_a_bounded_payment() -> None:
    reversal = Reversal("stripe", "evt_2", "charge.refunded", ReversalReason.REFUND, "ch_1", Money(5, "usd"), ("pi_1",))
    validate_event(reversal)
    for change in ({"payment_refs": ()}, {"source_id": ""}, {"payment_refs": ("pi 1",)}):
        with pytest.raises(MalformedEvent):
            validate_event(dataclasses.replace(reversal, **change))


@pytest.mark.parametrize("amount", ["²", "--5", "٤٩٠٠", "-5", " 5", "5 ", "1e3", "0x10", "9" * 20, "", "5.0"])
def test_paddle_amounts_are_ascii_digits_only(amount: str) -> None:
    event = notification("transaction.completed", transaction(total=4900))
    event["data"]["details"]["totals"]["grand_total"] = amount
    with pytest.raises(MalformedEvent):
        validate_event(normalise_paddle_event(event, EventRules()))


def test_referrals_are_bounded_too() -> None:
    validate_referral(Referral("c1", "p1", "a@example.com", (("stripe", "cus_1"), ("paddle", "ctm_1"))))
    for referral in (
        Referral("c\x07", "p1"),
        Referral("c1", "p" * 501),
        Referral("c1", "p1", email="nope"),
        Referral("c1", "p1", provider_customer_ids=(("stripe", "cus 1"),)),
    ):
        with pytest.raises(MalformedEvent):
            validate_referral(referral)


@pytest.mark.parametrize("key", ["customer-John Smith", "customer-jörg", "customer-" + "x" * 200, "a\tb"])
def test_group_ids_sqs_would_refuse_are_digested(key: str) -> None:
    group = message_group_id(key)
    assert group.startswith("sha256-") and len(group) <= 128 and group.isascii()
    assert message_group_id(key) == group


def test_group_ids_sqs_accepts_are_kept() -> None:
    assert message_group_id("stripe-in_1MtHbELkdIwHu7ixl4OzzPMv") == "stripe-in_1MtHbELkdIwHu7ixl4OzzPMv"
