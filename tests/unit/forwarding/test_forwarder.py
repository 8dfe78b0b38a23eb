"""The forwarder's guarantees, without AWS: one payment one transaction, order and
duplicates do not matter, partial refunds keep a proportional commission."""

from __future__ import annotations

import itertools

import pytest

from affiliate_bridge.domain.facts import ReversalFacts, SaleFacts
from affiliate_bridge.domain.messages import TransactionMessage
from affiliate_bridge.domain.money import Money
from affiliate_bridge.forwarding.forwarder import Forwarder
from affiliate_bridge.forwarding.state import CreateTransaction, DeleteTransaction, PaymentState, fold, plan
from tests.unit.fakes import MemoryAffiliateApi, MemoryLedger, MemoryStates

KEY = "stripe-in_1"


def sale(event_id: str = "evt_sale", paid: int = 1200, commissionable: int = 1000) -> TransactionMessage:
    return TransactionMessage(
        provider="stripe",
        event_id=event_id,
        event_type="invoice.paid",
        transaction_key=KEY,
        occurred_at=1_700_000_000,
        sale=SaleFacts(paid, commissionable, "USD", "user-1", "partner-a", "customer_key", "buyer@example.com"),
    )


def refund(
    cumulative: int, event_id: str | None = None, source: str = "ch_1", currency: str = "USD"
) -> TransactionMessage:
    return TransactionMessage(
        provider="stripe",
        event_id=event_id or f"evt_refund_{cumulative}",
        event_type="charge.refunded",
        transaction_key=KEY,
        occurred_at=1_700_000_100,
        reversal=ReversalFacts("refund", source, cumulative, currency),
    )


def dispute(status: str, amount: int = 1200) -> TransactionMessage:
    return TransactionMessage(
        provider="stripe",
        event_id=f"evt_dispute_{status}",
        event_type="charge.dispute.closed",
        transaction_key=KEY,
        occurred_at=1_700_000_200,
        reversal=ReversalFacts("dispute", "dp_1", amount, "USD", status),
    )


def forwarder() -> tuple[Forwarder, MemoryAffiliateApi, MemoryStates, MemoryLedger]:
    api, states, ledger = MemoryAffiliateApi(), MemoryStates(), MemoryLedger()
    return Forwarder(states, ledger, api), api, states, ledger


def test_a_first_sale_creates_customer_and_transaction_in_one_call() -> None:
    fwd, api, _, ledger = forwarder()
    fwd.forward(sale())
    assert api.active() == {KEY: Money(1000, "USD")}
    assert api.calls == [f"POST {KEY}"]
    assert api.customers == {"user-1": "partner-a"}
    assert [a["result"] for _, a in ledger.attempts] == ["ok"]


def test_duplicate_sales_make_one_transaction() -> None:
    fwd, api, _, _ = forwarder()
    fwd.forward(sale("evt_a"))
    fwd.forward(sale("evt_b"))  # invoice.paid after checkout.session.completed
    fwd.forward(sale("evt_a"))  # provider retry
    assert api.active() == {KEY: Money(1000, "USD")}
    assert api.calls == [f"POST {KEY}"]  # later facts about the same money change nothing


def test_partial_then_full_refund() -> None:
    fwd, api, states, _ = forwarder()
    fwd.forward(sale())
    fwd.forward(refund(300))  # 25% of 1200 refunded: 75% of the commission stays
    assert api.active() == {f"{KEY}-r1": Money(750, "USD")}
    fwd.forward(refund(300, event_id="evt_again"))  # same cumulative amount: nothing changes
    assert api.active() == {f"{KEY}-r1": Money(750, "USD")}
    fwd.forward(refund(1200))
    assert api.active() == {}
    assert states.states[KEY].applied_key is None


def test_refund_before_sale_is_not_lost() -> None:
    fwd, api, _, _ = forwarder()
    fwd.forward(refund(600))
    assert api.active() == {}
    fwd.forward(sale())
    assert api.active() == {KEY: Money(500, "USD")}


def test_lost_dispute_reverses_and_won_does_not() -> None:
    fwd, api, _, _ = forwarder()
    fwd.forward(sale())
    fwd.forward(dispute("open"))
    assert api.active() == {KEY: Money(1000, "USD")}
    fwd.forward(dispute("won"))
    assert api.active() == {KEY: Money(1000, "USD")}
    fwd2, api2, _, _ = forwarder()
    fwd2.forward(sale())
    fwd2.forward(dispute("lost"))
    fwd2.forward(dispute("open"))  # a late update cannot reopen a closed dispute
    assert api2.active() == {}


def test_reversal_in_another_currency_is_kept_out_of_the_arithmetic() -> None:
    fwd, api, states, _ = forwarder()
    fwd.forward(sale())
    fwd.forward(refund(600, currency="EUR"))
    assert api.active() == {KEY: Money(1000, "USD")}
    assert states.states[KEY].ignored_currency_events == ("evt_refund_600",)


MESSAGES = [sale("evt_s1"), sale("evt_s2"), refund(300), refund(600), refund(300, event_id="evt_dup")]


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(MESSAGES)))))
def test_any_order_ends_in_the_same_commission(order: tuple[int, ...]) -> None:
    fwd, api, _, _ = forwarder()
    for index in order:
        fwd.forward(MESSAGES[index])
    active = api.active()
    assert list(active.values()) == [Money(500, "USD")]  # 600 of 1200 kept


def test_a_create_that_landed_but_was_not_saved_is_not_doubled() -> None:
    fwd, api, states, _ = forwarder()
    api.customers["user-1"] = "partner-a"
    api.transactions[KEY] = {"customer": "user-1", "amount": Money(1000, "USD"), "deleted": False}
    fwd.forward(sale())  # state says nothing applied; the API already has the key
    assert api.active() == {KEY: Money(1000, "USD")}
    assert states.states[KEY].applied_key == KEY


def test_plan_is_empty_when_in_line() -> None:
    state = fold(PaymentState(KEY), sale())
    assert plan(state) == [CreateTransaction(KEY, 1000)]
    applied = PaymentState(KEY, sale=state.sale, currency="USD", applied_key=KEY, applied_minor=1000, revision=1)
    assert plan(applied) == []
    refunded = fold(applied, refund(1200))
    assert plan(refunded) == [DeleteTransaction(KEY)]


def test_an_older_dispute_update_does_not_override_a_newer_one() -> None:
    from dataclasses import replace

    fwd, api, _, _ = forwarder()
    fwd.forward(sale())
    fwd.forward(replace(dispute("won"), occurred_at=1_700_000_500))
    fwd.forward(replace(dispute("lost"), occurred_at=1_700_000_400))  # delivered late
    assert api.active() == {KEY: Money(1000, "USD")}


def _dispute_at(status: str, at: int, amount: int = 1200) -> TransactionMessage:
    message = dispute(status, amount)
    return TransactionMessage(
        provider=message.provider,
        event_id=f"evt_{status}_{at}",
        event_type=message.event_type,
        transaction_key=message.transaction_key,
        occurred_at=at,
        reversal=message.reversal,
    )


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        # Stripe: opened (t=1), then won (t=3); a late retry of the open (t=1) or of a
        # funds-withdrawn update (t=2) arrives after the win and must change nothing.
        ([("open", 1), ("won", 3), ("open", 1)], 1000),
        ([("won", 3), ("open", 2)], 1000),
        ([("won", 3), ("lost", 3)], 1000),  # a tie never moves a closed dispute
        # Lost, then a newer win (Paddle's chargeback_reverse): the commission comes back.
        ([("lost", 2), ("won", 5)], 1000),
        ([("won", 5), ("lost", 2)], 1000),
        # Lost for good, whatever stale update follows.
        ([("lost", 4), ("open", 1)], 0),
        ([("open", 1), ("lost", 4)], 0),
    ],
)
def test_dispute_updates_are_ordered_and_closed_disputes_are_final(
    history: list[tuple[str, int]], expected: int
) -> None:
    state = fold(PaymentState(transaction_key="stripe-in_1"), sale())
    for status, at in history:
        state = fold(state, _dispute_at(status, at))
    assert state.desired_minor() == expected


def test_a_lost_dispute_for_part_of_the_charge_keeps_the_proportional_commission() -> None:
    state = fold(fold(PaymentState(transaction_key="stripe-in_1"), sale()), _dispute_at("lost", 2, amount=300))
    assert state.desired_minor() == 1000 * (1200 - 300) // 1200


def test_a_later_sale_event_naming_the_alias_still_pulls_its_facts() -> None:
    """invoice.paid (basil: no payment intent) is folded first; a later event about the
    same money names the payment intent under which a lost dispute was already filed."""
    from dataclasses import replace

    from tests.unit.fakes import MemoryQueue, MemoryReferrals

    api, states, queue = MemoryAffiliateApi(), MemoryStates(), MemoryQueue()
    fwd = Forwarder(states, MemoryLedger(), api, links=MemoryReferrals(), queue=queue)
    fwd.forward(replace(dispute("lost", 1200), transaction_key="stripe-pi_1"))
    fwd.forward(sale("evt_invoice_paid"))
    assert api.active() == {KEY: Money(1000, "USD")}
    fwd.forward(replace(sale("evt_session"), alias_keys=("stripe-pi_1",)))
    assert api.active() == {}
    assert states.states["stripe-pi_1"].merged_into == KEY
