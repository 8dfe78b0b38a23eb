"""Ledger equals API, whatever crashes: before and after every affiliate API call and every
save, once or persistently (until the message is dead-lettered, then the next message or a
redrive), and whatever the API already holds under a key."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from affiliate_bridge.domain.messages import TransactionMessage
from affiliate_bridge.domain.money import Money
from affiliate_bridge.forwarding.forwarder import Forwarder
from affiliate_bridge.forwarding.state import PaymentState
from affiliate_bridge.ports import ApiAnswer, NewCustomer
from tests.unit.fakes import MemoryAffiliateApi, MemoryLedger, MemoryStates
from tests.unit.forwarding.test_forwarder import KEY, dispute, refund, sale

MAX_RECEIVES = 3  # the queue's maxReceiveCount: after that the message is dead-lettered


class Crash(RuntimeError):
    """The Lambda died here (timeout, out of memory, a DynamoDB or network failure)."""


@dataclass
class Faults:
    """Counts boundaries (before/after each API call and each save) and crashes at one."""

    target: int = -1
    persistent: bool = False
    seen: int = 0
    fired: bool = False
    labels: list[str] = field(default_factory=list)

    def boundary(self, label: str) -> None:
        self.labels.append(label)
        hit = self.seen == self.target or (self.persistent and self.fired and label.startswith("save"))
        self.seen += 1
        if hit:
            self.fired = True
            raise Crash(label)


class CrashingStates(MemoryStates):
    def __init__(self, faults: Faults) -> None:
        super().__init__()
        self.faults = faults

    def save(self, state: PaymentState) -> PaymentState:
        self.faults.boundary("save:before")
        saved = super().save(state)
        self.faults.boundary("save:after")
        return saved


class CrashingApi(MemoryAffiliateApi):
    def __init__(self, faults: Faults) -> None:
        super().__init__()
        self.faults = faults

    def _around(self, name: str, call: Any) -> Any:
        self.faults.boundary(f"{name}:before")
        result = call()
        self.faults.boundary(f"{name}:after")
        return result

    def create_transaction(
        self,
        key: str,
        customer_key: str,
        amount: Money,
        created_at: int | None = None,
        new_customer: NewCustomer | None = None,
    ) -> ApiAnswer:
        parent = super().create_transaction
        return self._around("create", lambda: parent(key, customer_key, amount, created_at, new_customer))  # type: ignore[no-any-return]

    def delete_transaction(self, key: str) -> ApiAnswer:
        parent = super().delete_transaction
        return self._around("delete", lambda: parent(key))  # type: ignore[no-any-return]


SCENARIOS: dict[str, list[TransactionMessage]] = {
    "sale, partial refund, full refund": [sale(), refund(300, event_id="evt_r1"), refund(1200, event_id="evt_r2")],
    "refund first, then sale, then lost dispute": [refund(600), sale(), dispute("lost", 600)],
    "sale, partial refunds twice, won dispute": [sale(), refund(200), refund(500, event_id="evt_r2"), dispute("won")],
}


def _deliver(messages: list[TransactionMessage], faults: Faults) -> tuple[CrashingApi, CrashingStates]:
    """Drive the forwarder like the event source mapping: a crashed message is received
    again, up to MAX_RECEIVES, then dead-lettered; dead letters are redriven at the end
    (the operator's `dlq redrive`), once the fault is gone."""
    api, states = CrashingApi(faults), CrashingStates(faults)
    forwarder = Forwarder(states, MemoryLedger(), api)
    dead: list[TransactionMessage] = []
    for message in messages:
        for _ in range(MAX_RECEIVES):
            try:
                forwarder.forward(message)
                break
            except Crash:
                continue
        else:
            dead.append(message)
    faults.persistent, faults.target = False, -1
    for message in dead:
        forwarder.forward(message)
    return api, states


def _expected(messages: list[TransactionMessage]) -> int:
    api, _ = _deliver(messages, Faults())
    return sum(m.amount_minor for m in api.active().values())


def _boundaries(messages: list[TransactionMessage]) -> int:
    faults = Faults()
    _deliver(messages, faults)
    return faults.seen


@pytest.mark.parametrize("persistent", [False, True], ids=["once", "until dead-lettered"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_api_equals_ledger_after_a_crash_at_every_boundary(scenario: str, persistent: bool) -> None:
    messages = SCENARIOS[scenario]
    expected = _expected(messages)
    for target in range(_boundaries(messages)):
        faults = Faults(target=target, persistent=persistent)
        api, states = _deliver(messages, faults)
        state = states.states[KEY]
        active = api.active()
        label = faults.labels[target] if target < len(faults.labels) else "?"
        assert state.pending is None, (target, label)
        held = {key: money.amount_minor for key, money in active.items()}
        ledger = {state.applied_key: state.applied_minor} if state.applied_key else {}
        assert held == ledger, (target, label, held, ledger)  # the ledger says what the API holds
        assert sum(held.values()) == expected == state.desired_minor(), (target, label)  # and it is the net
        assert len(held) <= 1  # one transaction per payment


@pytest.mark.parametrize(
    ("held_amount", "deleted"),
    [(750, False), (1000, False), (1000, True)],
    ids=["another amount", "the same amount", "deleted since"],
)
def test_already_taken_is_checked_against_what_the_key_holds(held_amount: int, deleted: bool) -> None:
    api, states = MemoryAffiliateApi(), MemoryStates()
    api.customers["user-1"] = "partner-a"
    api.transactions[KEY] = {"customer": "user-1", "amount": Money(held_amount, "USD"), "deleted": deleted}
    Forwarder(states, MemoryLedger(), api).forward(sale())
    assert {k: v.amount_minor for k, v in api.active().items()} == {states.states[KEY].applied_key: 1000}


def test_a_delete_that_landed_but_was_not_saved_is_read_back() -> None:
    faults = Faults()
    api, states = CrashingApi(faults), CrashingStates(faults)
    forwarder = Forwarder(states, MemoryLedger(), api)
    forwarder.forward(sale())
    faults.target = faults.seen + 3  # save(pending) before, after; delete before, after -> crash after delete
    with pytest.raises(Crash):
        forwarder.forward(refund(1200))
    assert states.states[KEY].applied_minor == 1000 and states.states[KEY].pending is not None
    forwarder.forward(replace(refund(1200), event_id="evt_retry"))
    assert api.active() == {} and states.states[KEY].applied_key is None
