"""Reconcile finds every way the affiliate API can drift from the ledger, and its fix,
carried out by the forwarder, brings the API back to exactly what the ledger says."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from affiliate_bridge.domain.facts import ObservedFacts, ReversalFacts, SaleFacts
from affiliate_bridge.domain.messages import TransactionMessage, observation_message
from affiliate_bridge.domain.money import Money
from affiliate_bridge.forwarding.forwarder import Forwarder
from affiliate_bridge.ports import HeldTransaction
from affiliate_bridge.recovery.reconcile import DriftKind, Reconciler, compare, payment_key_of, to_minor
from tests.unit.fakes import MemoryAffiliateApi, MemoryLedger, MemoryQueue, MemoryStates

PROVIDERS = ("stripe", "paddle")


def sale(key: str, paid: int = 1200, commissionable: int = 1000) -> TransactionMessage:
    return TransactionMessage(
        provider="stripe",
        event_id=f"evt_{key}",
        event_type="invoice.paid",
        transaction_key=key,
        occurred_at=1_700_000_000,
        sale=SaleFacts(paid, commissionable, "USD", f"user-{key}", "partner-a", "customer_key"),
    )


def refund(key: str, cumulative: int) -> TransactionMessage:
    return TransactionMessage(
        provider="stripe",
        event_id=f"evt_refund_{key}_{cumulative}",
        event_type="charge.refunded",
        transaction_key=key,
        occurred_at=1_700_000_100,
        reversal=ReversalFacts("refund", "ch_1", cumulative, "USD"),
    )


class World:
    """The forwarder, its states and an API, wired as in the cloud but in memory."""

    def __init__(self) -> None:
        self.api, self.states, self.queue = MemoryAffiliateApi(), MemoryStates(), MemoryQueue()
        self.forwarder = Forwarder(self.states, MemoryLedger(), self.api, queue=self.queue)
        self.reconciler = Reconciler(self.states, self.api, self.queue, PROVIDERS)

    def forward(self, message: TransactionMessage) -> None:
        self.forwarder.forward(message)

    def run_queue(self) -> None:
        while self.queue.sent:
            self.forward(self.queue.sent.pop(0))

    def expected(self) -> dict[str, int]:
        return {
            s.applied_key: s.desired_minor()
            for s in self.states.states.values()
            if s.applied_key is not None and s.desired_minor() > 0
        }

    def held(self) -> dict[str, int]:
        return {key: money.amount_minor for key, money in self.api.active().items()}


def test_each_kind_of_drift_is_reported_with_both_amounts() -> None:
    world = World()
    for key in ("stripe-in_a", "stripe-in_b", "stripe-in_c"):
        world.forward(sale(key))
    world.api.transactions["stripe-in_a"]["deleted"] = True  # deleted by hand
    world.api.transactions["stripe-in_b"]["amount"] = Money(700, "USD")  # changed by hand
    world.api.transactions["stripe-in_c-r7"] = {"customer": "x", "amount": Money(5, "USD"), "deleted": False}
    world.api.transactions["stripe-in_gone"] = {"customer": "x", "amount": Money(9, "USD"), "deleted": False}
    world.api.transactions["manual-1"] = {"customer": "x", "amount": Money(9, "USD"), "deleted": False}

    found = {(d.kind, d.api_key): (d.expected_minor, d.held_minor) for d in world.reconciler.compare().drifts}

    assert found == {
        (DriftKind.DELETED, "stripe-in_a"): (1000, None),
        (DriftKind.AMOUNT_DIFFERS, "stripe-in_b"): (1000, 700),
        (DriftKind.UNEXPECTED, "stripe-in_c-r7"): (0, 5),
        (DriftKind.UNKNOWN, "stripe-in_gone"): (None, 9),
    }


def test_fix_restores_the_api_and_leaves_what_the_ledger_cannot_explain() -> None:
    world = World()
    for key in ("stripe-in_a", "stripe-in_b"):
        world.forward(sale(key))
    world.forward(refund("stripe-in_b", 600))  # kept: 50% of 1000
    del world.api.transactions["stripe-in_a"]  # not listed at all: missing
    world.api.transactions["stripe-in_b-r1"]["amount"] = Money(1, "USD")
    world.api.transactions["stripe-in_gone"] = {"customer": "x", "amount": Money(9, "USD"), "deleted": False}

    comparison = world.reconciler.compare()
    assert {d.kind for d in comparison.drifts} == {DriftKind.MISSING, DriftKind.AMOUNT_DIFFERS, DriftKind.UNKNOWN}
    assert world.reconciler.fix(comparison, "run-1") == 2
    world.run_queue()

    held = world.held()
    assert held.pop("stripe-in_gone") == 9  # never deleted: no state explains it
    assert held == world.expected() == {"stripe-in_a-r1": 1000, "stripe-in_b-r2": 500}
    assert [d.kind for d in world.reconciler.compare().drifts] == [DriftKind.UNKNOWN]


def test_a_stale_observation_changes_nothing() -> None:
    """The forwarder moved the payment after reconcile read the API: its reading is old."""
    world = World()
    world.forward(sale("stripe-in_a"))
    comparison = world.reconciler.compare()
    assert not comparison.drifts
    stale = ObservedFacts(applied_key="stripe-in_a", held=())
    world.forward(refund("stripe-in_a", 1200))  # full refund: the API holds nothing now
    before = dict(world.api.transactions)
    world.forward(observation_message("stripe", "stripe-in_a", stale, "old-run"))
    assert world.api.transactions == before and world.held() == {}


def test_payments_with_a_call_in_flight_are_left_to_the_forwarder() -> None:
    world = World()
    world.forward(sale("stripe-in_a"))
    state = world.states.states["stripe-in_a"]
    world.states.states["stripe-in_a"] = replace(state, applied_key="stripe-in_a-r9")
    from affiliate_bridge.forwarding.state import PendingCall

    world.states.states["stripe-in_a"] = replace(state, pending=PendingCall("create", "stripe-in_a-r1", 5))
    comparison = world.reconciler.compare()
    assert comparison.in_flight == 1 and not comparison.drifts


def test_since_leaves_older_payments_out() -> None:
    world = World()
    world.forward(sale("stripe-in_a"))
    world.api.transactions["stripe-in_a"]["deleted"] = True
    assert world.reconciler.compare(since=1_700_000_001).drifts == ()
    assert len(world.reconciler.compare(since=1_699_999_999).drifts) == 1


def test_keys_and_amounts() -> None:
    assert payment_key_of("stripe-in_1-r12") == "stripe-in_1"
    assert payment_key_of("paddle-txn_01-rx") == "paddle-txn_01-rx"
    assert to_minor("12.5", "USD") == 1250 and to_minor("1000", "JPY") == 1000 and to_minor("1.234", "KWD") == 1234
    assert to_minor("abc", "USD") is None and to_minor("1", None) is None and to_minor("1", "XXY") is None
    unreadable = compare([], [HeldTransaction("stripe-x", "abc", "USD")], PROVIDERS)
    assert unreadable.drifts[0].held_minor is None


def edit_by_hand(world: World, key: str | None, edit: str, amount: int) -> None:
    """What a person can do at the platform's dashboard to one payment's transaction."""
    if key is None:
        return
    if edit == "delete":
        world.api.transactions[key]["deleted"] = True
    elif edit == "remove":
        del world.api.transactions[key]
    elif edit == "alter":
        world.api.transactions[key]["amount"] = Money(amount, "USD")
    elif edit == "stray":
        world.api.transactions[f"{payment_key_of(key)}-r99"] = {
            "customer": "x",
            "amount": Money(amount, "USD"),
            "deleted": False,
        }


EDITS = st.sampled_from(["delete", "remove", "alter", "stray", "none"])


@settings(max_examples=60, deadline=None)
@given(
    plans=st.lists(
        st.tuples(st.integers(100, 10_000), st.integers(0, 100), EDITS, st.integers(1, 9_999)), min_size=1, max_size=5
    ),
    refund_first=st.booleans(),
)
def test_whatever_is_done_by_hand_one_fix_brings_the_api_back_to_the_ledger(
    plans: list[tuple[int, int, str, int]], refund_first: bool
) -> None:
    world = World()
    for index, (paid, refunded_pct, _, _) in enumerate(plans):
        key = f"stripe-in_{index}"
        world.forward(sale(key, paid=paid, commissionable=paid))
        if refunded_pct and refund_first:
            world.forward(refund(key, paid * refunded_pct // 100))
    for index, (_, _, edit, amount) in enumerate(plans):
        edit_by_hand(world, world.states.states[f"stripe-in_{index}"].applied_key, edit, amount)
    world.reconciler.fix(world.reconciler.compare(), "run")
    world.run_queue()
    if not refund_first:  # a refund after the fix still lands where the ledger says
        for index, (paid, refunded_pct, _, _) in enumerate(plans):
            if refunded_pct:
                world.forward(refund(f"stripe-in_{index}", paid * refunded_pct // 100))
    assert world.held() == world.expected()
    assert world.reconciler.compare().drifts == ()


def test_a_fix_that_crashed_after_its_first_save_is_finished_by_its_redelivery() -> None:
    world = World()
    world.forward(sale("stripe-in_a"))
    world.api.transactions["stripe-in_a"]["deleted"] = True
    world.reconciler.fix(world.reconciler.compare(), "run")
    observation = world.queue.sent.pop()
    # The first delivery saved "the API holds nothing" and crashed before creating.
    state = world.states.states["stripe-in_a"]
    world.states.states["stripe-in_a"] = replace(state, applied_key=None, applied_minor=0)
    world.forward(observation)  # redelivered: stale by now, but settled
    assert world.held() == {"stripe-in_a-r1": 1000}
