"""The forwarder use case: fold one message into its payment, then bring the affiliate
API in line with it.

The ledger never trusts itself about the API. Before each call the intended call is
saved (``PaymentState.pending``) and after it the result; a payment loaded with an intent
still pending crashed (or failed to save) between the two, so the forwarder first reads
what the API holds under that key and records that, whichever way the call went. A
create answered "already taken" is checked the same way against the amount it holds.
Then it plans again from the truth, one call at a time. Every call and its answer is
written to the ledger for ``explain``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from affiliate_bridge.domain.messages import TransactionMessage, moved_reversal
from affiliate_bridge.domain.money import Money
from affiliate_bridge.errors import AffiliateApiError, PermanentError, UnknownCustomer
from affiliate_bridge.forwarding.state import (
    DeleteTransaction,
    PaymentState,
    PendingCall,
    Step,
    fold,
    plan,
    reversal_facts,
)
from affiliate_bridge.ports import (
    AffiliateApi,
    ApiAnswer,
    AttemptLog,
    EventLedger,
    NewCustomer,
    PaymentLinks,
    Queue,
    StateStore,
)

# Calls per message at most: delete + create, plus a burnt key or a corrected amount.
MAX_ROUNDS = 6


@dataclass(frozen=True)
class ForwardResult:
    state: PaymentState
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Forwarder:
    states: StateStore
    attempts: AttemptLog
    api: AffiliateApi
    # Where reversals filed under an alias key find their payment (None: not wired).
    links: PaymentLinks | None = None
    queue: Queue | None = None
    # Where the webhook's ledger entry a message carries is written (None: not wired).
    events: EventLedger | None = None

    def record_entry(self, message: TransactionMessage, message_id: str, first_receive: bool) -> None:
        """Write the ledger entry the webhook left in the message, before anything else is
        done with it: a message that ends in the dead-letter queue is explained too. Every
        receive writes it again (the same values: a crash before the write loses nothing);
        only the first counts as the provider's delivery. An entry that names another
        message already stays: SQS's own redrive of a letter the queue moved to the
        dead-letter queue gives it a new id and no trace of the old one."""
        entry = message.entry
        if entry is None or self.events is None:
            return
        self.events.record_event(
            message.provider,
            message.event_id,
            message.event_type,
            entry.outcome,
            count_delivery=first_receive,
            only_for_message=message_id,
            transaction_key=message.transaction_key,
            message_id=message_id,
            reason=entry.reason,
            attribution_rule=entry.attribution_rule,
            attribution_trail=list(entry.attribution_trail),
            partner_key=entry.partner_key,
            customer_key=entry.customer_key,
            payment_kind=entry.payment_kind,
        )

    def forward(self, message: TransactionMessage) -> ForwardResult:
        if message.customer is not None:
            return self._mirror_customer(message)
        state = self.states.load(message.transaction_key)
        if state.pending is not None:
            state = self._resolve_pending(state, message.event_id)
        if state.merged_into is not None:
            return self._follow(state, message)
        if message.relink is not None:
            return ForwardResult(self._move(state, message.provider, message.relink), ())
        if message.observed is not None:
            return self._observe(state, message)
        folded = fold(state, message)
        if message.sale is not None and message.alias_keys:
            folded = self._pull(folded, message)
        if folded != state:
            # When a call follows, its intent's save (``_run``) writes the folded facts
            # too: one write instead of two, and a crash before it loses nothing the
            # message's retry does not fold again.
            state = folded if plan(folded) else self.states.save(folded)
        if state.sale is None and message.reversal is not None:
            # Filed under an alias key (a payment intent, a charge) because the payment's
            # own key was not known: if the link is known by now, move everything there.
            own = self._linked_key(state.transaction_key, message.provider)
            if own is not None:
                return ForwardResult(self._move(state, message.provider, own), ())
        # The state keeps no email (only its hash); the message being handled may carry
        # one, for creating the customer with its first transaction.
        return self._settle(state, message.event_id, message.sale.customer_email if message.sale else None)

    def _settle(self, state: PaymentState, event_id: str, email: str | None) -> ForwardResult:
        """Move the API to what the state says. One call at a time, planning again after
        each: an answer ("already taken" with another amount) can change what the next
        call must be. Each round either moves the API one step closer or burns a revision
        key, so a few rounds always suffice."""
        done: list[Step] = []
        for _ in range(MAX_ROUNDS):
            steps = plan(state)
            if not steps:
                return ForwardResult(state, tuple(done))
            state = self._run(steps[0], state, event_id, email)
            done.append(steps[0])
        if plan(state):
            raise RuntimeError(f"{state.transaction_key}: the API did not settle in {MAX_ROUNDS} calls")
        return ForwardResult(state, tuple(done))

    # -- what reconcile saw the API hold ------------------------------------------------------
    def _observe(self, state: PaymentState, message: TransactionMessage) -> ForwardResult:
        """Reconcile read the API and found it off the ledger (a transaction deleted or
        changed by hand, or one the ledger does not name). The state learns what the API
        holds, stray transactions of this payment are deleted, and the API is settled as
        after any other message. Applied only while the state still names the transaction
        reconcile compared: had the forwarder made a call since, the reading is stale
        (the next reconcile reads again), and only the settling is done, as for any
        message: that also finishes a fix that crashed after its first save."""
        seen = message.observed
        assert seen is not None
        if state.applied_key != seen.applied_key:
            return self._settle(state, message.event_id, None)
        strays = tuple(DeleteTransaction(key) for key, _ in seen.held if key != state.applied_key)
        for stray in strays:
            self._call(state, "DELETE /v1/transactions", stray.key, message.event_id, self._deleter(stray.key))
        if state.applied_key is not None:
            held = seen.amount_of(state.applied_key)
            if held is None:  # gone: the next create uses a fresh revision key
                state = self.states.save(replace(state, applied_key=None, applied_minor=0))
            elif held != state.applied_minor:
                state = self.states.save(replace(state, applied_minor=held))
        settled = self._settle(state, message.event_id, None)
        return ForwardResult(settled.state, strays + settled.steps)

    def _deleter(self, key: str) -> Callable[[], ApiAnswer]:
        return lambda: self.api.delete_transaction(key)

    # -- facts filed under an alias key before the link was known ---------------------------
    def _linked_key(self, alias_key: str, provider: str) -> str | None:
        if self.links is None:
            return None
        own = self.links.find_payment_key(provider, alias_key.removeprefix(f"{provider}-"))
        return own if own and own != alias_key else None

    def _move(self, alias: PaymentState, provider: str, own_key: str) -> PaymentState:
        """Send the alias's facts to the payment's own key (its queue group, so they are
        folded in order with the payment's other messages), then mark the alias. A crash
        in between sends them again; folding the same fact twice changes nothing, and the
        queue drops a repeat within five minutes (same deduplication id)."""
        if alias.sale is not None or self.queue is None:
            return alias  # a payment in its own right, not an alias
        for fact, occurred_at in reversal_facts(alias):
            event_id = f"moved:{alias.transaction_key}:{fact.source_id}:{fact.reversed_minor}:{fact.dispute_status}"
            self.queue.send(moved_reversal(fact, provider, event_id, occurred_at, own_key))
        return self.states.save(replace(alias, merged_into=own_key))

    def _follow(self, alias: PaymentState, message: TransactionMessage) -> ForwardResult:
        """A fact that still reached a merged alias goes where the others went."""
        assert alias.merged_into is not None
        if message.reversal is not None and self.queue is not None:
            self.queue.send(
                moved_reversal(
                    message.reversal, message.provider, message.event_id, message.occurred_at, alias.merged_into
                )
            )
        return ForwardResult(alias, ())

    def _pull(self, state: PaymentState, message: TransactionMessage) -> PaymentState:
        """A sale naming alias keys (any of its events, not only the first) takes in the
        facts already filed under them.
        The payment's state holding them is saved before the aliases are marked merged,
        so a crash in between loses nothing (the alias still holds them, and moves them
        by queue when its next message finds the link)."""
        pulled: list[PaymentState] = []
        for alias_key in message.alias_keys:
            alias = self.states.load(alias_key)
            if alias.sale is not None or alias.merged_into is not None or not reversal_facts(alias):
                continue
            for fact, occurred_at in reversal_facts(alias):
                state = fold(
                    state,
                    moved_reversal(fact, message.provider, "pulled", occurred_at, state.transaction_key),
                )
            pulled.append(alias)
        if pulled:
            state = self.states.save(state)
            for alias in pulled:
                self.states.save(replace(alias, merged_into=state.transaction_key))
        return state

    def _resolve_pending(self, state: PaymentState, event_id: str) -> PaymentState:
        """A call was intended and its result never saved: ask the API what it holds."""
        pending = state.pending
        assert pending is not None
        held = self._held(state, pending.key, event_id)
        if pending.call == "create":
            if held is None:  # did not land: plan again (the same key is tried again)
                return self.states.save(replace(state, pending=None))
            return self._created(state, pending.key, held)
        if held is None:  # the delete landed
            return self.states.save(replace(state, pending=None, applied_key=None, applied_minor=0))
        return self.states.save(replace(state, pending=None, applied_key=pending.key, applied_minor=held))

    def _held(self, state: PaymentState, key: str, event_id: str) -> int | None:
        sale, currency = state.sale, state.currency
        if sale is None or currency is None:
            return None  # nothing was ever created without a sale
        answer: list[int | None] = []

        def look() -> ApiAnswer:
            answer.append(self.api.find_transaction(key, sale.customer_key, currency))
            return ApiAnswer(200)

        self._call(state, "GET /v1/transactions", key, event_id, look)
        return answer[0]

    def _mirror_customer(self, message: TransactionMessage) -> ForwardResult:
        """A signup mirrored at the affiliate API; "already exists" counts as done."""
        customer = message.customer
        assert customer is not None
        state = PaymentState(transaction_key=message.transaction_key)
        if customer.reassigned_at is not None:
            return self._reassign(state, message)
        self._call(
            state,
            "POST /v1/customers",
            customer.customer_key,
            message.event_id,
            lambda: self.api.create_customer(customer.customer_key, customer.partner_key, customer.customer_email),
        )
        return ForwardResult(state, ())

    def _reassign(self, state: PaymentState, message: TransactionMessage) -> ForwardResult:
        """Move a customer to its new partner with documented calls only: the API has no
        way to change a customer's partner, so the record it holds is renamed to
        ``<key>~until-<time>`` (keeping its past transactions, credited to the old partner)
        and the customer is created again under the new one; later transactions follow.
        Each step is safe to repeat: a crash in between renames nothing twice (404) and
        creates nothing twice ("exists")."""
        customer = message.customer
        assert customer is not None and customer.reassigned_at is not None
        held: list[str | None] = []

        def look() -> ApiAnswer:
            held.append(self.api.customer_partner(customer.customer_key))
            return ApiAnswer(200)

        self._call(state, "GET /v1/customers", customer.customer_key, message.event_id, look)
        if held[0] is None or held[0] == customer.partner_key:
            return ForwardResult(state, ())  # unknown there (its next sale creates it), or in line
        aside = f"{customer.customer_key}~until-{customer.reassigned_at}"
        self._call(
            state,
            "PUT /v1/customers",
            customer.customer_key,
            message.event_id,
            lambda: self.api.rename_customer(customer.customer_key, aside),
        )
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
            state = self.states.save(replace(state, pending=PendingCall("delete", step.key)))
            self._call(
                state, "DELETE /v1/transactions", step.key, event_id, lambda: self.api.delete_transaction(step.key)
            )
            return self.states.save(replace(state, pending=None, applied_key=None, applied_minor=0))
        sale = state.sale
        assert sale is not None and state.currency is not None
        amount = Money(step.amount_minor, state.currency)
        state = self.states.save(replace(state, pending=PendingCall("create", step.key, step.amount_minor)))

        # The partner is known, so a customer the API may not know yet is created in the
        # same call (one call for a first sale instead of create -> 422 -> customer ->
        # create). Once a transaction landed the customer exists and it is not sent again.
        new_customer = NewCustomer(sale.partner_key, email) if not state.customer_known else None

        def create() -> ApiAnswer:
            return self.api.create_transaction(
                step.key, sale.customer_key, amount, state.sale_occurred_at or None, new_customer
            )

        try:
            answer = self._call(state, "POST /v1/transactions", step.key, event_id, create, step.amount_minor)
        except UnknownCustomer:
            self._call(
                state,
                "POST /v1/customers",
                step.key,
                event_id,
                lambda: self.api.create_customer(sale.customer_key, sale.partner_key, email),
            )
            try:
                answer = self._call(state, "POST /v1/transactions", step.key, event_id, create, step.amount_minor)
            except UnknownCustomer as exc:
                # Created a moment ago and still unknown: retrying will not help.
                raise PermanentError("customer still unknown after it was created", exc.status, exc.body) from exc
        held = step.amount_minor
        if answer.duplicate:
            # "Already taken" says only that the key exists: check what it holds.
            found = self._held(state, step.key, event_id)
            if found is None:
                # Taken by a transaction deleted since: that key is spent, use the next.
                return self.states.save(replace(state, pending=None, revision=state.revision + 1))
            held = found
        return self._created(state, step.key, held)

    def _created(self, state: PaymentState, key: str, held_minor: int) -> PaymentState:
        """The API holds ``held_minor`` under ``key``: that revision key is used up, and the
        customer exists there."""
        return self.states.save(
            replace(
                state,
                pending=None,
                applied_key=key,
                applied_minor=held_minor,
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
