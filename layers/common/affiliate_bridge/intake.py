"""The webhook use case, shared by every provider: attribute, record, enqueue.

A provider module has already verified and normalised the event; from here Stripe and
Paddle take the same path. Nothing here calls the affiliate API: the webhook answers
within the provider's deadline and the forwarder does the slow part.

Order matters for "nothing accepted is ever lost": the message is sent first and the
ledger written after, so a failure at either step raises, the webhook answers 5xx, and
the provider retries; the retry is deduplicated by SQS or folded idempotently.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from affiliate_bridge.attribution import ReferralLookup, attribute
from affiliate_bridge.domain import (
    Attribution,
    CustomerProfile,
    Ignored,
    NormalisedEvent,
    Payment,
    PaymentAlias,
    Reversal,
    transaction_key,
)
from affiliate_bridge.identity import email_hash
from affiliate_bridge.transaction_messages import TransactionMessage, reversal_message, sale_message


class Outcome(enum.StrEnum):
    ENQUEUED = "enqueued"
    UNATTRIBUTED = "unattributed"
    SKIPPED_ZERO_AMOUNT = "skipped_zero_amount"
    LINKED = "linked"
    PROFILE_UPDATED = "profile_updated"
    IGNORED = "ignored"


@dataclass(frozen=True)
class IntakeResult:
    outcome: Outcome
    transaction_key: str | None = None
    message_id: str | None = None
    attribution: Attribution | None = None
    reason: str | None = None


class Referrals(ReferralLookup, Protocol):
    def put_payment_ref(self, provider: str, ref: str, transaction_key: str) -> None: ...

    def find_payment_key(self, provider: str, ref: str) -> str | None: ...

    def put_customer_email(
        self, provider: str, customer_id: str, hashed_email: str | None, updated_at: int
    ) -> None: ...


class EventLedger(Protocol):
    def record_event(self, provider: str, event_id: str, event_type: str, outcome: str, **detail: object) -> None: ...


class Queue(Protocol):
    def send(self, message: TransactionMessage) -> str: ...


@dataclass(frozen=True)
class Intake:
    referrals: Referrals
    ledger: EventLedger
    queue: Queue

    def accept(self, event: NormalisedEvent) -> IntakeResult:
        if isinstance(event, Ignored):
            result = IntakeResult(Outcome.IGNORED, reason=event.reason)
        elif isinstance(event, PaymentAlias):
            self._link(event.provider, event.payment_refs, event.transaction_key)
            result = IntakeResult(Outcome.LINKED, transaction_key=event.transaction_key)
        elif isinstance(event, CustomerProfile):
            hashed = email_hash(event.email) if event.email else None
            self.referrals.put_customer_email(event.provider, event.provider_customer_id, hashed, event.occurred_at)
            result = IntakeResult(Outcome.PROFILE_UPDATED, reason=f"customer {event.provider_customer_id}")
        elif isinstance(event, Payment):
            result = self._payment(event)
        else:
            result = self._reversal(event)
        self.ledger.record_event(
            event.provider,
            event.event_id,
            event.event_type,
            str(result.outcome),
            transaction_key=result.transaction_key,
            message_id=result.message_id,
            reason=result.reason,
            attribution_rule=str(result.attribution.rule) if result.attribution and result.attribution.rule else None,
            attribution_trail=list(result.attribution.tried) if result.attribution else None,
            partner_key=result.attribution.partner_key if result.attribution else None,
            customer_key=result.attribution.customer_key if result.attribution else None,
        )
        return result

    def _link(self, provider: str, refs: tuple[str, ...], key: str) -> None:
        for ref in refs:
            if transaction_key(provider, ref) != key:
                self.referrals.put_payment_ref(provider, ref, key)

    def _payment(self, payment: Payment) -> IntakeResult:
        self._link(payment.provider, payment.payment_refs, payment.transaction_key)
        if payment.commissionable.amount_minor <= 0:
            return IntakeResult(
                Outcome.SKIPPED_ZERO_AMOUNT, payment.transaction_key, reason="zero commissionable amount"
            )
        attribution = attribute(payment.provider, payment.customer, self.referrals)
        if not attribution.attributed:
            return IntakeResult(
                Outcome.UNATTRIBUTED, payment.transaction_key, attribution=attribution, reason="no referral matched"
            )
        message_id = self.queue.send(sale_message(payment, attribution))
        return IntakeResult(Outcome.ENQUEUED, payment.transaction_key, message_id, attribution)

    def _reversal(self, reversal: Reversal) -> IntakeResult:
        key = self.resolve_payment_key(reversal.provider, reversal.payment_refs)
        message_id = self.queue.send(reversal_message(reversal, key))
        return IntakeResult(Outcome.ENQUEUED, key, message_id)

    def resolve_payment_key(self, provider: str, refs: tuple[str, ...]) -> str:
        """The first ref a sale linked wins; otherwise the first ref is the key itself
        (an invoice id, or the payment intent of a one-time payment)."""
        for ref in refs:
            found = self.referrals.find_payment_key(provider, ref)
            if found:
                return found
        return transaction_key(provider, refs[0])
