"""The forwarder use case: fold one message into its payment, then bring the affiliate
API in line with it.

State is saved after every call that changed the API, so a crash between two calls
resumes where it stopped: a create that landed but was not saved is retried under the
same key and answered "already taken", which counts as done. Every call and its answer
is written to the ledger for ``explain``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from affiliate_bridge.money import Money
from affiliate_bridge.partnero_client import (
    AffiliateApiError,
    ApiAnswer,
    NewCustomer,
    PermanentError,
    UnknownCustomer,
)
from affiliate_bridge.payment_state import DeleteTransaction, PaymentState, Step, fold, plan
from affiliate_bridge.transaction_messages import TransactionMessage


class AffiliateApi(Protocol):
    def create_transaction(
        self,
        key: str,
        customer_key: str,
        amount: Money,
        created_at: int | None = None,
        new_customer: NewCustomer | None = None,
    ) -> ApiAnswer: ...

    def create_customer(self, customer_key: str, partner_key: str, email: str | None) -> ApiAnswer: ...

    def delete_transaction(self, key: str) -> ApiAnswer: ...


class StateStore(Protocol):
    def load(self, transaction_key: str) -> PaymentState: ...

    def save(self, state: PaymentState) -> PaymentState: ...


class AttemptLog(Protocol):
    def record_attempt(self, transaction_key: str, attempt: dict[str, object]) -> None: ...


@dataclass(frozen=True)
class ForwardResult:
    state: PaymentState
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Forwarder:
    states: StateStore
    attempts: AttemptLog
    api: AffiliateApi

    def forward(self, message: TransactionMessage) -> ForwardResult:
        if message.customer is not None:
            return self._mirror_customer(message)
        state = self.states.load(message.transaction_key)
        folded = fold(state, message)
        if folded != state:
            state = self.states.save(folded)
        steps = tuple(plan(state))
        # The state keeps no email (only its hash); the message being handled may carry
        # one, for creating the customer with its first transaction.
        email = message.sale.customer_email if message.sale else None
        for step in steps:
            state = self._run(step, state, message.event_id, email)
        return ForwardResult(state, steps)

    def _mirror_customer(self, message: TransactionMessage) -> ForwardResult:
        """A signup mirrored at the affiliate API; "already exists" counts as done."""
        customer = message.customer
        assert customer is not None
        state = PaymentState(transaction_key=message.transaction_key)
        self._call(
            state,
            "POST /v1/customers",
            customer.customer_key,
            message.event_id,
            lambda: self.api.create_customer(customer.customer_key, customer.partner_key, customer.customer_email),
        )
        return ForwardResult(state, ())

    def _run(self, step: Step, state: PaymentState, event_id: str, email: str | None) -> PaymentState:
        if isinstance(step, DeleteTransaction):
            self._call(
                state, "DELETE /v1/transactions", step.key, event_id, lambda: self.api.delete_transaction(step.key)
            )
            return self.states.save(replace(state, applied_key=None, applied_minor=0))
        sale = state.sale
        assert sale is not None and state.currency is not None
        amount = Money(step.amount_minor, state.currency)

        # The partner is known, so a customer the API may not know yet is created in the
        # same call (one call for a first sale instead of create -> 422 -> customer ->
        # create). Once a transaction landed the customer exists and it is not sent again.
        new_customer = NewCustomer(sale.partner_key, email) if not state.customer_known else None

        def create() -> ApiAnswer:
            return self.api.create_transaction(
                step.key, sale.customer_key, amount, state.sale_occurred_at or None, new_customer
            )

        try:
            self._call(state, "POST /v1/transactions", step.key, event_id, create, step.amount_minor)
        except UnknownCustomer:
            self._call(
                state,
                "POST /v1/customers",
                step.key,
                event_id,
                lambda: self.api.create_customer(sale.customer_key, sale.partner_key, email),
            )
            try:
                self._call(state, "POST /v1/transactions", step.key, event_id, create, step.amount_minor)
            except UnknownCustomer as exc:
                # Created a moment ago and still unknown: retrying will not help.
                raise PermanentError("customer still unknown after it was created", exc.status, exc.body) from exc
        return self.states.save(
            replace(
                state,
                applied_key=step.key,
                applied_minor=step.amount_minor,
                revision=state.revision + 1,
                customer_known=True,
            )
        )

    def _call(
        self,
        state: PaymentState,
        call: str,
        key: str,
        event_id: str,
        action: Callable[[], ApiAnswer],
        amount_minor: int | None = None,
    ) -> ApiAnswer:
        attempt: dict[str, object] = {"call": call, "key": key, "event_id": event_id}
        if amount_minor is not None:
            attempt["amount_minor"] = amount_minor
        try:
            answer = action()
        except AffiliateApiError as exc:
            attempt.update(result=type(exc).__name__, status=exc.status, detail=str(exc))
            self.attempts.record_attempt(state.transaction_key, attempt)
            raise
        attempt.update(result="duplicate" if answer.duplicate else "ok", status=answer.status)
        self.attempts.record_attempt(state.transaction_key, attempt)
        return answer
