"""A referral racing the payment it should release, on real threads with injected latency.

Webhook: attribute (no referral yet) -> park -> look again. Referral: store -> look for
parked payments -> release. Whatever the interleaving, the payment must leave parking
exactly once: never stuck (nobody released it), never doubled (the queue, like SQS within
its five-minute window, drops a second send with the same deduplication id).

Trials alternate which side leads, so that neither family of interleavings depends on
the scheduler's mood (on a loaded CI machine one side once won all 3,000 races): the
referral leads until it is stored (the webhook must then find it at once), or the webhook
leads until it starts parking (the referral's store and release then race its park and
recheck: parked-then-released in about 13-50 % of those trials, found on recheck in the
rest, over 1,500 webhook-led trials per case). The injected latency varies the rest.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from affiliate_bridge.attribution.intake import Intake, Outcome
from affiliate_bridge.attribution.late import LateAttribution
from affiliate_bridge.domain.events import CustomerRefs, Payment
from affiliate_bridge.domain.messages import TransactionMessage
from affiliate_bridge.domain.money import Money
from affiliate_bridge.domain.referrals import ParkedPayment, Referral
from affiliate_bridge.storage.transactions_queue import deduplication_id
from tests.unit.fakes import MemoryLedger, MemoryParking, MemoryReferrals

TRIALS = 3000


def _pause() -> None:
    """Latency injected at every store call: zero, a thread switch, or up to 300 µs."""
    roll = random.random()
    if roll < 0.3:
        return
    time.sleep(0 if roll < 0.6 else random.random() * 0.0003)


class SlowReferrals(MemoryReferrals):
    """Each call is atomic (DynamoDB single-item operations are), with latency around it."""

    def __init__(self, follower_may_start: threading.Event, leader: str) -> None:
        super().__init__()
        self.lock = threading.RLock()  # the fake calls its own (wrapped) methods inside a call
        self.follower_may_start = follower_may_start
        self.leader = leader

    def _atomic(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        _pause()
        with self.lock:
            result = method(*args, **kwargs)
        _pause()
        return result

    def find_referral(self, customer_key: str) -> Referral | None:
        return self._atomic(super().find_referral, customer_key)  # type: ignore[no-any-return]

    def find_customer_key(self, kind: Any, value: str) -> str | None:
        return self._atomic(super().find_customer_key, kind, value)  # type: ignore[no-any-return]

    def put_referral(self, referral: Referral, last_touch: bool = False, platform_at_ms: int | None = None) -> Any:
        result = self._atomic(super().put_referral, referral, last_touch)
        if self.leader == "referral":
            self.follower_may_start.set()  # stored, aliases too: the webhook's first look must see it
        return result


@dataclass
class SlowParking(MemoryParking):
    """Each identifier written, and each read, atomically but with latency around it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    webhook_parking: threading.Event = field(default_factory=threading.Event)

    def _file(self, identifier: tuple[str, str], parked: ParkedPayment) -> None:
        self.webhook_parking.set()  # found nothing at first: the referral may start now
        _pause()
        with self.lock:
            super()._file(identifier, parked)

    def find(self, kind: str, value: str) -> list[ParkedPayment]:
        _pause()
        with self.lock:
            return super().find(kind, value)

    def is_released(self, transaction_key: str) -> bool:
        _pause()
        with self.lock:
            return super().is_released(transaction_key)

    def mark_released(self, transaction_key: str, customer_key: str, rule: str, expires_at: int) -> None:
        _pause()
        with self.lock:
            super().mark_released(transaction_key, customer_key, rule, expires_at)


@dataclass
class DeduplicatingQueue:
    sent: list[TransactionMessage] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: TransactionMessage) -> str:
        _pause()
        with self.lock:
            dedup = deduplication_id(message)
            if dedup not in self.seen:
                self.seen.add(dedup)
                self.sent.append(message)
        return dedup


def _trial(identifier: str, leader: str) -> tuple[DeduplicatingQueue, SlowParking, list[Any]]:
    follower_may_start = threading.Event()
    referrals = SlowReferrals(follower_may_start, leader)
    parking = SlowParking(
        referrals=referrals, webhook_parking=follower_may_start if leader == "webhook" else threading.Event()
    )
    queue, ledger = DeduplicatingQueue(), MemoryLedger()
    intake = Intake(referrals, ledger, queue, parking=parking)
    late = LateAttribution(parking, queue, ledger)
    payment = Payment(
        provider="stripe",
        event_id="evt_race",
        event_type="checkout.session.completed",
        transaction_key="stripe-pi_race",
        paid=Money(1000, "USD"),
        commissionable=Money(1000, "USD"),
        occurred_at=1_700_000_000,
        customer=CustomerRefs(
            customer_key="cust-1" if identifier == "customer_key" else None, provider_customer_id="cus_1"
        ),
    )
    referral = Referral("cust-1", "partner-1", provider_customer_ids=(("stripe", "cus_1"),))
    outcomes: list[Any] = []
    errors: list[BaseException] = []

    def wait_turn() -> None:
        if threading.current_thread().name != leader:
            assert follower_may_start.wait(10), f"the {leader} never reached its gate"
        _pause()

    def webhook() -> None:
        try:
            wait_turn()
            outcomes.append(intake.accept(payment))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def backend() -> None:
        try:
            wait_turn()
            _, current = referrals.put_referral(referral)
            late.release(current)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=webhook, name="webhook"), threading.Thread(target=backend, name="referral")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors, errors
    return queue, parking, outcomes


@pytest.mark.parametrize("identifier", ["customer_key", "stripe_customer"])
def test_a_referral_racing_a_payment_releases_it_exactly_once(identifier: str) -> None:
    paths: dict[str, int] = {}
    for trial in range(TRIALS):
        leader = ("webhook", "referral")[trial % 2]
        queue, _, outcomes = _trial(identifier, leader)
        sales = [m for m in queue.sent if m.sale is not None]
        assert len(sales) == 1, f"{len(sales)} sale messages (stuck when 0, doubled when 2)"
        assert sales[0].sale is not None and sales[0].sale.partner_key == "partner-1"
        result = outcomes[0]
        at_once = result.outcome is Outcome.ENQUEUED and result.reason is None
        # A referral already stored must be found by the first look; one stored only after
        # the webhook began parking cannot have been.
        assert at_once is (leader == "referral"), (leader, result)
        path = (
            "attributed at once" if at_once else "found on recheck" if result.outcome is Outcome.ENQUEUED else "parked"
        )
        paths[path] = paths.get(path, 0) + 1
    # Every family of interleaving must really have occurred, or the test proves nothing.
    assert {"attributed at once", "parked"} <= paths.keys(), paths
