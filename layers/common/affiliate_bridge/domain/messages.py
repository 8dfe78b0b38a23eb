"""The versioned message on TransactionsQueue: what the forwarder needs, nothing more.

Schema versions 1 and 2. A message is a *fact* about one payment (a sale, or a cumulative
reversal from one source); the forwarder folds facts into the payment's state, so the
same fact twice, or facts out of order, end in the same transactions. Readers refuse a
version they do not know rather than guess; the message then goes to the dead-letter
queue with that reason, to be redriven after an upgrade. Version 2 is a sale that
carries its event's ledger entry (``EventEntry``): a forwarder of the version before
would forward it and drop the entry, so it must refuse it instead; every other message
stays version 1, which both read.

The customer's email travels here (the affiliate API may create the customer with it);
the queue is encrypted at rest and the email is never logged or stored in the table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from affiliate_bridge.domain.events import Payment, Reversal, transaction_key
from affiliate_bridge.domain.facts import CustomerFacts, ObservedFacts, ReversalFacts, SaleFacts
from affiliate_bridge.domain.identity import loggable_key
from affiliate_bridge.domain.referrals import Attribution
from affiliate_bridge.errors import UnreadableMessage

SCHEMA_VERSION = 1
ENTRY_SCHEMA_VERSION = 2  # a message carrying its event's ledger entry
READABLE_VERSIONS = (SCHEMA_VERSION, ENTRY_SCHEMA_VERSION)


# A redriven message's attribute naming the first enqueue's message id (the ledger's).
ORIGIN_MESSAGE_ID = "origin_message_id"

# What a message carries; the ledger files each accepted event under the same word.
SALE_KIND = "sale"
REVERSAL_KIND = "reversal"
OBSERVED_KIND = "observed"


@dataclass(frozen=True)
class EventEntry:
    """The webhook's ledger entry for the event a message carries, written by the
    forwarder when it receives the message. On the webhook's path that write was one
    round trip of four (and the dearest to the emulator); the message is durable once
    the webhook answers, so the entry it carries is too."""

    outcome: str
    payment_kind: str
    attribution_rule: str | None = None
    attribution_trail: tuple[str, ...] = ()
    partner_key: str | None = None
    customer_key: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TransactionMessage:
    provider: str
    event_id: str
    event_type: str
    transaction_key: str
    occurred_at: int
    sale: SaleFacts | None = None
    reversal: ReversalFacts | None = None
    customer: CustomerFacts | None = None
    # A link learned after facts may have been filed under this (alias) key: move them to
    # ``relink``, the payment's own key (a Stripe invoice_payment.paid).
    relink: str | None = None
    # Other keys the same money may have had facts filed under before its own key was
    # known (the payment intent or charge of an invoice): a sale pulls them in.
    alias_keys: tuple[str, ...] = ()
    # What reconcile saw the affiliate API hold for this payment, to move it back.
    observed: ObservedFacts | None = None
    # The event's ledger entry, when the webhook left it to the forwarder (``EventEntry``).
    entry: EventEntry | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def kind(self) -> str:
        if self.sale:
            return SALE_KIND
        if self.reversal:
            return REVERSAL_KIND
        if self.observed:
            return OBSERVED_KIND
        return "relink" if self.relink else "customer"

    def to_json(self) -> str:
        body = asdict(self)
        body["kind"] = self.kind
        return json.dumps(
            {k: v for k, v in body.items() if v is not None and v != ()}, separators=(",", ":"), sort_keys=True
        )

    @classmethod
    def from_json(cls, text: str) -> TransactionMessage:
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UnreadableMessage("message body is not JSON") from exc
        if not isinstance(body, dict):
            raise UnreadableMessage("message body is not a JSON object")
        version = body.get("schema_version")
        if type(version) is not int or version not in READABLE_VERSIONS:  # not True, not 2.0
            raise UnreadableMessage(f"unknown schema_version {version!r} (this forwarder reads 1 and 2)")
        if (version == ENTRY_SCHEMA_VERSION) != bool(body.get("entry")):
            raise UnreadableMessage(f"schema_version {version} and the message's ledger entry do not go together")
        try:
            sale = SaleFacts(**body["sale"]) if body.get("sale") else None
            reversal = ReversalFacts(**body["reversal"]) if body.get("reversal") else None
            customer = CustomerFacts(**body["customer"]) if body.get("customer") else None
            observed = _observed(body["observed"]) if body.get("observed") else None
            entry = _entry(body["entry"]) if body.get("entry") else None
            message = cls(
                provider=str(body["provider"]),
                event_id=str(body["event_id"]),
                event_type=str(body["event_type"]),
                transaction_key=str(body["transaction_key"]),
                occurred_at=int(body.get("occurred_at", 0)),
                sale=sale,
                reversal=reversal,
                customer=customer,
                relink=str(body["relink"]) if body.get("relink") else None,
                alias_keys=tuple(str(key) for key in body.get("alias_keys") or ()),
                observed=observed,
                entry=entry,
                schema_version=version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnreadableMessage(f"message does not match schema {version}: {exc}") from exc
        if sum(part is not None for part in (sale, reversal, customer, message.relink, observed)) != 1:
            raise UnreadableMessage("a message carries exactly one of sale, reversal, customer, relink or observed")
        return message


def _observed(body: object) -> ObservedFacts:
    if not isinstance(body, dict):
        raise TypeError("observed is not an object")
    applied = body.get("applied_key")
    held = tuple((str(key), int(minor)) for key, minor in body.get("held") or ())
    return ObservedFacts(applied_key=str(applied) if applied else None, held=held)


def _entry(body: object) -> EventEntry:
    if not isinstance(body, dict):
        raise TypeError("entry is not an object")
    trail = body.get("attribution_trail") or ()
    if not isinstance(trail, list | tuple):
        raise TypeError("entry's attribution_trail is not a list")
    return EventEntry(**{**body, "attribution_trail": tuple(str(step) for step in trail)})


def observation_message(
    provider: str, transaction_key: str, observed: ObservedFacts, run_id: str
) -> TransactionMessage:
    """Reconcile's finding for one payment, in the payment's queue group (behind every
    fact already queued for it). ``run_id`` names the reconcile run, so a run sent twice
    within five minutes is one message and the next run is a new one."""
    return TransactionMessage(
        provider=provider,
        event_id=f"reconcile:{run_id}",
        event_type="reconcile",
        transaction_key=transaction_key,
        occurred_at=0,
        observed=observed,
    )


def sale_message(
    payment: Payment, attribution: Attribution, create_customer: bool = False, entry: EventEntry | None = None
) -> TransactionMessage:
    assert attribution.customer_key and attribution.partner_key and attribution.rule
    return TransactionMessage(
        entry=entry,
        schema_version=SCHEMA_VERSION if entry is None else ENTRY_SCHEMA_VERSION,
        alias_keys=alias_keys(payment.provider, payment.payment_refs, payment.transaction_key),
        provider=payment.provider,
        event_id=payment.event_id,
        event_type=payment.event_type,
        transaction_key=payment.transaction_key,
        occurred_at=payment.occurred_at,
        sale=SaleFacts(
            paid_minor=payment.paid.amount_minor,
            commissionable_minor=payment.commissionable.amount_minor,
            currency=payment.paid.currency,
            customer_key=attribution.customer_key,
            partner_key=attribution.partner_key,
            attribution_rule=str(attribution.rule),
            customer_email=payment.customer.email,
            create_customer=create_customer,
        ),
    )


def customer_message(
    customer_key: str, partner_key: str, email: str | None, reason: str, reassigned_at: int | None = None
) -> TransactionMessage:
    """Group ``customer-<key>``: a customer's own messages stay in order. A key that is an
    email address is named by its hash: this name is logged and keys ledger entries."""
    return TransactionMessage(
        provider="referrals",
        event_id=reason,
        event_type="referral.created",
        transaction_key=f"customer-{loggable_key(customer_key)}",
        occurred_at=0,
        customer=CustomerFacts(customer_key, partner_key, email, reassigned_at),
    )


def reversal_message(reversal: Reversal, transaction_key: str) -> TransactionMessage:
    return TransactionMessage(
        provider=reversal.provider,
        event_id=reversal.event_id,
        event_type=reversal.event_type,
        transaction_key=transaction_key,
        occurred_at=reversal.occurred_at,
        reversal=ReversalFacts(
            reason=str(reversal.reason),
            source_id=reversal.source_id,
            reversed_minor=reversal.reversed.amount_minor,
            currency=reversal.reversed.currency,
            dispute_status=str(reversal.dispute_status) if reversal.dispute_status else None,
        ),
    )


def alias_keys(provider: str, refs: tuple[str, ...], own_key: str) -> tuple[str, ...]:
    """The keys a reversal naming one of ``refs`` is filed under while the link to
    ``own_key`` is not known yet (the ref's own transaction key)."""
    return tuple(key for key in (transaction_key(provider, ref) for ref in refs) if key != own_key)


def relink_message(provider: str, event_id: str, alias_key: str, own_key: str) -> TransactionMessage:
    """Sent to the alias key's group, behind any fact already filed there."""
    return TransactionMessage(
        provider=provider,
        event_id=event_id,
        event_type="relink",
        transaction_key=alias_key,
        occurred_at=0,
        relink=own_key,
    )


def moved_reversal(
    fact: ReversalFacts, provider: str, event_id: str, occurred_at: int, own_key: str
) -> TransactionMessage:
    return TransactionMessage(
        provider=provider,
        event_id=event_id,
        event_type="relinked",
        transaction_key=own_key,
        occurred_at=occurred_at,
        reversal=fact,
    )
