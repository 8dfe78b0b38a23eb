from __future__ import annotations

import pytest

from affiliate_bridge.attribution.intake import NO_SALE_SEEN, Intake, Outcome
from affiliate_bridge.domain.events import EventRules
from affiliate_bridge.domain.messages import TransactionMessage
from affiliate_bridge.domain.referrals import Referral
from affiliate_bridge.forwarding.forwarder import Forwarder
from affiliate_bridge.providers.stripe.events import normalise_stripe_event
from affiliate_bridge_dev import stripe_samples as s
from tests.unit.fakes import (
    MemoryAffiliateApi,
    MemoryLedger,
    MemoryParking,
    MemoryQueue,
    MemoryReferrals,
    MemoryStates,
)


def _intake() -> tuple[Intake, MemoryReferrals, MemoryLedger, MemoryQueue]:
    referrals, ledger, queue = MemoryReferrals(), MemoryLedger(), MemoryQueue()
    referrals.referrals["user-1"] = Referral("user-1", "partner-a")
    referrals.aliases[("stripe_customer", "cus_1")] = "user-1"
    return Intake(referrals, ledger, queue), referrals, ledger, queue


def _accept(intake: Intake, event: dict) -> Outcome:
    return intake.accept(normalise_stripe_event(event, EventRules())).outcome


def test_attributed_payment_is_enqueued_and_recorded() -> None:
    intake, _, ledger, queue = _intake()
    event = s.event("invoice.paid", s.invoice(amount_paid=1000, customer="cus_1"))
    assert _accept(intake, event) is Outcome.ENQUEUED
    assert queue.sent[0].sale is not None and queue.sent[0].sale.partner_key == "partner-a"
    entry = ledger.events[("stripe", event["id"])]
    assert entry["outcome"] == "enqueued" and entry["message_id"] == "msg-1"
    assert entry["attribution_rule"] == "provider_customer_id"


def test_unattributed_and_zero_are_recorded_not_enqueued() -> None:
    intake, _, ledger, queue = _intake()
    stranger = s.event("invoice.paid", s.invoice(amount_paid=1000, customer="cus_x", email="x@example.com"))
    zero = s.event("invoice.paid", s.invoice(amount_paid=0, customer="cus_1"))
    assert _accept(intake, stranger) is Outcome.UNATTRIBUTED
    assert _accept(intake, zero) is Outcome.SKIPPED_ZERO_AMOUNT
    assert queue.sent == []
    assert ledger.events[("stripe", stranger["id"])]["attribution_trail"] == [
        "customer_key:absent",
        "provider_customer_id:no referral",
        "email:no referral",
    ]


def test_refund_finds_the_invoice_key_through_the_linked_payment_intent() -> None:
    intake, referrals, _, queue = _intake()
    link = s.event("invoice_payment.paid", s.invoice_payment(invoice_id="in_9", payment_intent="pi_9", amount_paid=500))
    assert _accept(intake, link) is Outcome.LINKED
    assert referrals.payment_refs == {("stripe", "pi_9"): "stripe-in_9"}
    refund = s.event("charge.refunded", s.charge(amount=500, amount_refunded=500, payment_intent="pi_9"))
    assert _accept(intake, refund) is Outcome.ENQUEUED
    assert queue.sent[-1].transaction_key == "stripe-in_9"


def test_refund_of_a_one_time_payment_uses_its_payment_intent() -> None:
    intake, _, _, queue = _intake()
    refund = s.event("charge.refunded", s.charge(amount=500, amount_refunded=100, payment_intent="pi_1"))
    _accept(intake, refund)
    assert queue.sent[-1].transaction_key == "stripe-pi_1"


def test_queue_failure_raises_so_the_webhook_answers_5xx() -> None:
    intake, _, ledger, queue = _intake()
    queue.fail = True
    event = s.event("invoice.paid", s.invoice(amount_paid=1000, customer="cus_1"))
    with pytest.raises(RuntimeError):
        _accept(intake, event)
    assert ledger.events == {}  # nothing claims it was accepted


def test_unmatched_paddle_payment_is_parked_under_its_profile_email_looked_up_once() -> None:
    from affiliate_bridge.domain.events import Payment
    from affiliate_bridge.domain.identity import email_hash
    from affiliate_bridge.providers.paddle.events import normalise_paddle_event
    from affiliate_bridge_dev import paddle_samples as p

    class CountingReferrals(MemoryReferrals):
        lookups = 0

        def find_email_hash(self, provider: str, customer_id: str) -> str | None:
            CountingReferrals.lookups += 1
            return super().find_email_hash(provider, customer_id)

    class Parking(MemoryParking):
        parked: list[tuple[str, list[tuple[str, str]]]] = []

        def park(self, payment: Payment, identifiers: list[tuple[str, str]], window_seconds: int) -> int:
            self.parked.append((payment.transaction_key, identifiers))
            return super().park(payment, identifiers, window_seconds)

    referrals = CountingReferrals()
    parking = Parking(referrals)
    referrals.put_customer_email("paddle", "ctm_01x", email_hash("p@example.com"), 1)
    intake = Intake(referrals, MemoryLedger(), MemoryQueue(), parking=parking)
    sale = p.notification("transaction.completed", p.transaction(total=100, customer_id="ctm_01x"))
    assert intake.accept(normalise_paddle_event(sale, EventRules())).outcome is Outcome.UNATTRIBUTED
    assert parking.parked == [
        (f"paddle-{sale['data']['id']}", [("paddle_customer", "ctm_01x"), ("email", email_hash("p@example.com"))])
    ]
    assert CountingReferrals.lookups == 1


def test_a_reversal_says_when_no_sale_was_seen_and_is_still_enqueued() -> None:
    intake, _, ledger, queue = _intake()
    orphan = s.event("charge.refunded", s.charge(amount=500, amount_refunded=100, payment_intent="pi_lonely"))
    result = intake.accept(normalise_stripe_event(orphan, EventRules()))
    assert result.outcome is Outcome.ENQUEUED and queue.sent[-1].reversal is not None
    assert result.reason == NO_SALE_SEEN
    assert ledger.events[("stripe", orphan["id"])]["reason"] == NO_SALE_SEEN


def test_a_reversal_of_a_seen_sale_carries_no_warning_even_an_unattributed_one() -> None:
    intake, _, ledger, _ = _intake()
    for customer in ("cus_1", "cus_nobody"):
        session = s.checkout_session(amount_total=1000, customer=customer, email=None)
        intake.accept(normalise_stripe_event(s.event("checkout.session.completed", session), EventRules()))
        refund = s.charge(amount=1000, amount_refunded=400, payment_intent=session["payment_intent"])
        result = intake.accept(normalise_stripe_event(s.event("charge.refunded", refund), EventRules()))
        assert result.reason is None, customer
    kinds = {entry["event_type"]: entry["payment_kind"] for entry in ledger.events.values()}
    assert kinds == {"checkout.session.completed": "sale", "charge.refunded": "reversal"}


def test_on_the_webhooks_an_attributed_sale_carries_the_entry_the_intake_would_write() -> None:
    """``entry_by_forwarder``: no ledger write for the sale, and the message carries every
    field the direct write holds, so the forwarder's write loses nothing."""
    direct, _, direct_ledger, direct_queue = _intake()
    deferred, _, deferred_ledger, deferred_queue = _intake()
    deferred = Intake(deferred.referrals, deferred_ledger, deferred_queue, entry_by_forwarder=True)
    event = s.event("invoice.paid", s.invoice(amount_paid=1000, customer="cus_1", email="a@example.com"))
    assert _accept(direct, event) is _accept(deferred, event) is Outcome.ENQUEUED
    assert deferred_ledger.events == {}
    (sent,) = deferred_queue.sent
    message = TransactionMessage.from_json(sent.to_json())  # as the forwarder receives it
    assert message.entry is not None and direct_queue.sent[0].entry is None
    Forwarder(MemoryStates(), deferred_ledger, MemoryAffiliateApi(), events=deferred_ledger).record_entry(
        message, "msg-1", first_receive=True
    )
    assert deferred_ledger.events == direct_ledger.events


def test_on_the_webhooks_what_sends_no_sale_is_still_recorded_at_once() -> None:
    referrals, ledger, queue = MemoryReferrals(), MemoryLedger(), MemoryQueue()
    intake = Intake(referrals, ledger, queue, entry_by_forwarder=True)
    stranger = s.event("invoice.paid", s.invoice(amount_paid=1000, customer="cus_x"))
    zero = s.event("invoice.paid", s.invoice(amount_paid=0, customer="cus_x"))
    refund = s.event("charge.refunded", s.charge(amount=500, amount_refunded=100, payment_intent="pi_1"))
    assert [_accept(intake, e) for e in (stranger, zero, refund)] == [
        Outcome.UNATTRIBUTED,
        Outcome.SKIPPED_ZERO_AMOUNT,
        Outcome.ENQUEUED,
    ]
    assert {event_id for _, event_id in ledger.events} == {stranger["id"], zero["id"], refund["id"]}
    assert all(message.entry is None for message in queue.sent)
