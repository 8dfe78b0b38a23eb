"""Backfill's replay: the webhook's reader and intake, idempotent against the ledger."""

from __future__ import annotations

from typing import Any

from affiliate_bridge.attribution.intake import Intake
from affiliate_bridge.domain.facts import ObservedFacts
from affiliate_bridge.domain.messages import TransactionMessage, observation_message
from affiliate_bridge.domain.referrals import Referral
from affiliate_bridge.providers.stripe.events import HANDLED_EVENTS, REGISTERED_EVENTS
from affiliate_bridge.providers.stripe.provider import StripeProvider
from affiliate_bridge.providers.stripe.rebuild import OBJECT_KINDS, rebuilt_event
from affiliate_bridge.recovery.replay import Replayer, ReplayStatus
from affiliate_bridge_dev import stripe_samples as s
from tests.unit.fakes import MemoryLedger, MemoryQueue, MemoryReferrals


def _replayer() -> tuple[Replayer, MemoryLedger, MemoryQueue]:
    referrals, ledger, queue = MemoryReferrals(), MemoryLedger(), MemoryQueue()
    referrals.referrals["user-1"] = Referral("user-1", "partner-a")
    referrals.aliases[("stripe_customer", "cus_1")] = "user-1"

    def no_secret() -> tuple[str, ...]:
        raise AssertionError("a replayed event is never verified: it came from the API")

    provider = StripeProvider(no_secret, 300)
    return Replayer(provider, Intake(referrals, ledger, queue), ledger), ledger, queue


def test_a_new_sale_is_credited_and_a_second_run_changes_nothing() -> None:
    replayer, ledger, queue = _replayer()
    event = s.event("invoice.paid", s.invoice(amount_paid=1000, customer="cus_1"))
    first = replayer.replay(event)
    assert (first.status, first.outcome, first.credited) == (ReplayStatus.NEW, "enqueued", True)
    again = replayer.replay(event)
    assert again.status is ReplayStatus.KNOWN and len(queue.sent) == 1
    assert ledger.events[("stripe", event["id"])]["outcome"] == "enqueued"


def test_a_rebuilt_event_of_a_payment_already_seen_is_known() -> None:
    replayer, _, queue = _replayer()
    invoice = s.invoice(amount_paid=1000, customer="cus_1", api_version=s.LEGACY)
    replayer.replay(s.event("invoice.paid", invoice))
    rebuilt = rebuilt_event("invoice", invoice, s.LEGACY, now=1_800_000_000)
    assert rebuilt is not None and rebuilt["id"] == f"rebuilt:invoice.paid:{invoice['id']}:paid"
    result = replayer.replay(rebuilt)
    assert result.status is ReplayStatus.KNOWN and len(queue.sent) == 1


def test_unattributed_and_malformed_events_are_counted_apart() -> None:
    replayer, ledger, _ = _replayer()
    stranger = replayer.replay(s.event("invoice.paid", s.invoice(amount_paid=1000, customer="cus_x")))
    assert stranger.status is ReplayStatus.NEW and stranger.unattributed and not stranger.credited
    broken = s.event("invoice.paid", {"object": "invoice"})
    rejected = replayer.replay(broken)
    assert rejected.status is ReplayStatus.REJECTED and ledger.events[("stripe", broken["id"])]["outcome"] == "rejected"
    # A rejected event is tried again on the next run (the bridge may read it by then).
    assert replayer.replay(broken).status is ReplayStatus.REJECTED
    nameless: dict[str, Any] = {"type": "invoice.paid"}
    assert replayer.replay(nameless).status is ReplayStatus.REJECTED


def test_rebuilt_events_follow_the_objects_state() -> None:
    now = 1_800_000_000
    charge = s.charge(amount=500, amount_refunded=200, payment_intent="pi_1", api_version=s.LEGACY)
    refunded = rebuilt_event("charge", charge, s.LEGACY, now)
    assert refunded is not None and refunded["type"] == "charge.refunded" and refunded["id"].endswith(":200")
    assert rebuilt_event("charge", {**charge, "amount_refunded": 0}, s.LEGACY, now) is None
    assert rebuilt_event("invoice", {"id": "in_1", "status": "open"}, s.LEGACY, now) is None
    assert rebuilt_event("checkout.session", {"id": "cs_1", "status": "open"}, s.LEGACY, now) is None
    lost = rebuilt_event("dispute", {"id": "dp_1", "status": "lost"}, s.LEGACY, now)
    assert lost is not None and lost["type"] == "charge.dispute.closed" and lost["created"] == now
    assert rebuilt_event("dispute", {"status": "lost"}, s.LEGACY, now) is None
    assert OBJECT_KINDS.index("invoice") < OBJECT_KINDS.index("charge")


def test_event_lists() -> None:
    assert set(REGISTERED_EVENTS) <= set(HANDLED_EVENTS) and len(HANDLED_EVENTS) <= 20
    assert "charge.dispute.closed" in REGISTERED_EVENTS and "invoice_payment.paid" in HANDLED_EVENTS


def test_an_observation_survives_the_queue() -> None:
    observed = ObservedFacts("stripe-in_1", (("stripe-in_1", 1000), ("stripe-in_1-r3", 5)))
    message = observation_message("stripe", "stripe-in_1", observed, "run-1")
    assert TransactionMessage.from_json(message.to_json()) == message and message.kind == "observed"
    empty = observation_message("stripe", "stripe-in_2", ObservedFacts(None), "run-1")
    assert TransactionMessage.from_json(empty.to_json()) == empty
