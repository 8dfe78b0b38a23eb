"""A save that loses its optimistic version check (a redrive racing a retry) at any point
of any message, in every order of a payment's facts: the retry settles the API on the
state's amount, with no intent left pending. The forwarder saves a message's facts
together with the intent of the call they lead to, so this is the boundary that moved."""

from __future__ import annotations

import contextlib
import itertools

from affiliate_bridge.errors import StaleState
from affiliate_bridge.forwarding.forwarder import Forwarder
from affiliate_bridge.forwarding.state import PaymentState
from tests.unit.fakes import MemoryAffiliateApi, MemoryLedger, MemoryStates
from tests.unit.forwarding.test_forwarder import KEY, dispute, refund, sale


class VersionedStates(MemoryStates):
    """DynamoDB's conditional save; ``lose_at``: the n-th save from now loses a race."""

    lose_at: int | None = None

    def save(self, state: PaymentState) -> PaymentState:
        stored = self.states.get(state.transaction_key)
        if (stored.version if stored else 0) != state.version:
            raise StaleState(state.transaction_key)
        if self.lose_at is not None:
            self.lose_at -= 1
            if self.lose_at < 0:
                self.lose_at = None
                raise StaleState(state.transaction_key)
        return super().save(state)


MESSAGES = [sale(), refund(300), refund(300, event_id="dup"), refund(1200), dispute("lost"), dispute("won")]


def test_every_order_with_a_lost_race_at_every_save_settles() -> None:
    for order in itertools.permutations(MESSAGES, 4):
        for lose_at in range(3):  # the first, second or third save of each message
            api, states = MemoryAffiliateApi(), VersionedStates()
            forwarder = Forwarder(states, MemoryLedger(), api)
            for message in order:
                states.lose_at = lose_at
                with contextlib.suppress(StaleState):  # lost: SQS hands the message back
                    forwarder.forward(message)
                states.lose_at = None
                retried = forwarder.forward(message)
                assert states.load(KEY) == retried.state, order
            state = states.load(KEY)
            held = sum(t.amount_minor for t in api.active().values())
            assert (held, state.pending) == (state.desired_minor(), None), (order, lose_at, api.active())
