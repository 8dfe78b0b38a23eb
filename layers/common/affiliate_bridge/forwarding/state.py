"""A payment's state in the forwarder: the facts received and what the affiliate API holds.

Folding is pure and idempotent: a sale fact is kept once (the first one; every event
about the same money carries the same amounts), a reversal fact keeps the largest
cumulative amount per source (Stripe's ``amount_refunded`` only grows; a re-delivered or
out-of-order older event cannot lower it). The commission the API *should* hold is
derived from the facts; the forwarder then moves the API to it (``plan``).

Partial refunds: the affiliate API has no partial reversal, so the strategy uses only
documented calls: delete the transaction that is there, then create the kept amount
under a new revision key (``<key>-r<n>``), since a transaction key is unique and may not
be reused. A full refund or a lost dispute only deletes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from affiliate_bridge.domain.events import DisputeStatus
from affiliate_bridge.domain.facts import ReversalFacts, SaleFacts
from affiliate_bridge.domain.identity import email_hash
from affiliate_bridge.domain.messages import TransactionMessage
from affiliate_bridge.domain.money import proportion


@dataclass(frozen=True)
class Reversals:
    refunds: dict[str, int] = field(default_factory=dict)  # source id -> cumulative minor
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> amount, status

    def total_reversed(self) -> int:
        lost = sum(int(d["amount"]) for d in self.disputes.values() if d["status"] == DisputeStatus.LOST)
        return sum(self.refunds.values()) + lost


@dataclass(frozen=True)
class PendingCall:
    call: str  # "create" | "delete"
    key: str
    amount_minor: int = 0


@dataclass(frozen=True)
class PaymentState:
    transaction_key: str
    sale: SaleFacts | None = None
    sale_event_id: str | None = None
    sale_occurred_at: int = 0
    currency: str | None = None
    reversals: Reversals = field(default_factory=Reversals)
    applied_key: str | None = None  # the transaction the affiliate API holds now
    applied_minor: int = 0
    revision: int = 0  # transactions created so far; names the next key
    customer_known: bool = False
    version: int = 0  # optimistic lock in DynamoDB
    ignored_currency_events: tuple[str, ...] = ()
    customer_email_hash: str | None = None
    # The affiliate API call about to be made, saved before it is made and cleared with
    # its result: a state loaded with one still set is "in doubt" (the call may or may
    # not have landed) and the forwarder reads the API before acting.
    pending: PendingCall | None = None
    # Facts filed under this key before the payment's own key was known were moved there:
    # anything arriving here later follows them.
    merged_into: str | None = None

    def desired_minor(self) -> int:
        """The commissionable amount the affiliate API should hold for this payment."""
        if self.sale is None:
            return 0
        kept = self.sale.paid_minor - self.reversals.total_reversed()
        return proportion(self.sale.commissionable_minor, kept, self.sale.paid_minor)

    def next_key(self) -> str:
        return self.transaction_key if self.revision == 0 else f"{self.transaction_key}-r{self.revision}"


def fold(state: PaymentState, message: TransactionMessage) -> PaymentState:
    """The state after ``message``; the same message twice returns an equal state."""
    if message.sale is not None:
        if state.sale is not None:
            return state
        if state.currency and state.currency != message.sale.currency:
            return replace(state, ignored_currency_events=(*state.ignored_currency_events, message.event_id))
        email = message.sale.customer_email
        return replace(
            state,
            # The email travels in the message for the affiliate API; the table keeps
            # only its hash (no address at rest), so the state never holds it.
            sale=replace(message.sale, customer_email=None),
            customer_email_hash=email_hash(email) if email else None,
            sale_event_id=message.event_id,
            sale_occurred_at=message.occurred_at,
            currency=message.sale.currency,
        )
    reversal = message.reversal
    assert reversal is not None
    if state.currency and state.currency != reversal.currency:
        # A reversal in another currency than the sale cannot be proportioned; keep it
        # out of the arithmetic and visible in explain.
        return replace(state, ignored_currency_events=(*state.ignored_currency_events, message.event_id))
    currency = state.currency or reversal.currency
    if reversal.reason == "dispute":
        disputes = dict(state.reversals.disputes)
        current = disputes.get(reversal.source_id)
        if current and not _dispute_update_applies(current, reversal.dispute_status, message.occurred_at):
            return state
        disputes[reversal.source_id] = {
            "amount": reversal.reversed_minor,
            "status": reversal.dispute_status,
            "at": message.occurred_at,
        }
        return replace(state, currency=currency, reversals=replace(state.reversals, disputes=disputes))
    refunds = dict(state.reversals.refunds)
    refunds[reversal.source_id] = max(refunds.get(reversal.source_id, 0), reversal.reversed_minor)
    return replace(state, currency=currency, reversals=replace(state.reversals, refunds=refunds))


def _dispute_update_applies(current: dict[str, Any], incoming: str | None, occurred_at: int) -> bool:
    """Providers deliver out of order and retry late: an older update never overrides a
    newer one. A closed dispute is final (a won one whatever comes after, so a stale
    retry cannot take the commission back), except that a lost one becomes won by a
    strictly newer event: Paddle's chargeback_reverse, the only way a chargeback is won
    back there."""
    current_at = int(current.get("at", 0))
    if occurred_at < current_at:
        return False
    status = current["status"]
    if status == DisputeStatus.WON:
        return False
    if status == DisputeStatus.LOST:
        return incoming == DisputeStatus.WON and occurred_at > current_at
    return True


@dataclass(frozen=True)
class DeleteTransaction:
    key: str


@dataclass(frozen=True)
class CreateTransaction:
    key: str
    amount_minor: int


Step = DeleteTransaction | CreateTransaction


def plan(state: PaymentState) -> list[Step]:
    """Calls that move the affiliate API from what it holds to what it should hold."""
    desired = state.desired_minor()
    if state.applied_key is not None and state.applied_minor == desired:
        return []
    steps: list[Step] = []
    if state.applied_key is not None:
        steps.append(DeleteTransaction(state.applied_key))
    if desired > 0:
        steps.append(CreateTransaction(state.next_key(), desired))
    return steps


def to_record(state: PaymentState) -> dict[str, Any]:
    """The stored form. The key is kept as ``payment_key``, not ``transaction_key``: the
    table's ``ByTransactionKey`` index holds every item with that attribute, and the
    state, rewritten on every message, would be written to the index each time although
    nothing looks it up there (its own key names it)."""
    return {
        "payment_key": state.transaction_key,
        "sale": state.sale.__dict__ if state.sale else None,
        "sale_event_id": state.sale_event_id,
        "sale_occurred_at": state.sale_occurred_at,
        "currency": state.currency,
        "refunds": state.reversals.refunds,
        "disputes": state.reversals.disputes,
        "applied_key": state.applied_key,
        "applied_minor": state.applied_minor,
        "revision": state.revision,
        "customer_known": state.customer_known,
        "version": state.version,
        "ignored_currency_events": list(state.ignored_currency_events),
        "customer_email_hash": state.customer_email_hash,
        "pending": state.pending.__dict__ if state.pending else None,
        "merged_into": state.merged_into,
    }


def from_record(record: dict[str, Any]) -> PaymentState:
    sale = record.get("sale")
    if sale:
        sale = {**sale, "customer_email": None}  # states saved before the hash replaced it
    return PaymentState(
        transaction_key=record.get("payment_key") or record["transaction_key"],  # the latter: saved before
        sale=SaleFacts(**sale) if sale else None,
        sale_event_id=record.get("sale_event_id"),
        sale_occurred_at=int(record.get("sale_occurred_at") or 0),
        currency=record.get("currency"),
        reversals=Reversals(refunds=dict(record.get("refunds") or {}), disputes=dict(record.get("disputes") or {})),
        applied_key=record.get("applied_key"),
        applied_minor=int(record.get("applied_minor") or 0),
        revision=int(record.get("revision") or 0),
        customer_known=bool(record.get("customer_known")),
        version=int(record.get("version") or 0),
        ignored_currency_events=tuple(record.get("ignored_currency_events") or ()),
        customer_email_hash=record.get("customer_email_hash"),
        pending=PendingCall(**record["pending"]) if record.get("pending") else None,
        merged_into=record.get("merged_into"),
    )


def reversal_facts(state: PaymentState) -> list[tuple[ReversalFacts, int]]:
    """Every reversal fact the state holds, with its time, to move them to another key."""
    currency = state.currency or ""
    facts = [
        (ReversalFacts("refund", source, amount, currency), 0) for source, amount in state.reversals.refunds.items()
    ]
    for dispute_id, dispute in state.reversals.disputes.items():
        fact = ReversalFacts("dispute", dispute_id, int(dispute["amount"]), currency, dispute["status"])
        facts.append((fact, int(dispute.get("at", 0))))
    return facts
