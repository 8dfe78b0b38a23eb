"""What a provider event means to the bridge, independent of the provider.

Provider modules turn an event into exactly one of these; everything after that
(attribution, ledger, queueing, forwarding) is shared by Stripe and Paddle.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from affiliate_bridge.domain.money import Money


@dataclass(frozen=True)
class CustomerRefs:
    """Everything a payment tells us about who paid, in attribution-precedence order."""

    customer_key: str | None = None  # merchant's own key, from metadata / custom_data
    provider_customer_id: str | None = None  # cus_... / ctm_...
    email: str | None = None  # never logged; hashed before it is stored
    partner_hint: str | None = None  # partner key carried on the payment itself


@dataclass(frozen=True)
class Payment:
    """Money received. ``transaction_key`` names the payment, not the event (one payment,
    one transaction): every event about the same money yields the same key."""

    provider: str
    event_id: str
    event_type: str
    transaction_key: str
    paid: Money  # what the customer paid, tax included: the denominator for refunds
    commissionable: Money  # what commission is computed on (tax excluded by default)
    occurred_at: int  # unix seconds
    customer: CustomerRefs
    # Other ids of the same money (payment intent, charge) so reversals that only know
    # those ids find this payment's key.
    payment_refs: tuple[str, ...] = ()
    # A name another event may give the same money under a different key (the first
    # payment of subscription ``sub_X``: a Checkout Session without ``invoice`` on old API
    # versions, and that subscription's first ``invoice.paid``): whichever arrives first
    # claims it, and the other takes that key (one payment, one transaction).
    same_money_as: str | None = None


class ReversalReason(enum.StrEnum):
    REFUND = "refund"
    DISPUTE = "dispute"


class DisputeStatus(enum.StrEnum):
    OPEN = "open"  # funds may be withdrawn, outcome unknown: commission stays
    WON = "won"
    LOST = "lost"  # the only dispute outcome that reverses commission


@dataclass(frozen=True)
class Reversal:
    """Money going back. ``reversed`` is cumulative for its source (Stripe's
    ``amount_refunded`` is), so applying the same reversal twice changes nothing."""

    provider: str
    event_id: str
    event_type: str
    reason: ReversalReason
    source_id: str  # charge, dispute or adjustment id: one running total per source
    reversed: Money
    # Candidate ids of the original payment, best first. The first one that names a known
    # payment wins; the last one is the fallback transaction key.
    payment_refs: tuple[str, ...]
    dispute_status: DisputeStatus | None = None
    occurred_at: int = 0


@dataclass(frozen=True)
class PaymentAlias:
    """An event that only links ids of the same money (Stripe ``invoice_payment.paid``
    links a payment intent to its invoice on API versions where the invoice no longer
    names it), so later refunds can find the payment."""

    provider: str
    event_id: str
    event_type: str
    transaction_key: str
    payment_refs: tuple[str, ...]


@dataclass(frozen=True)
class Ignored:
    """An event the bridge knowingly does nothing with, and why (shown by ``explain``)."""

    provider: str
    event_id: str
    event_type: str
    reason: str


@dataclass(frozen=True)
class EventRules:
    """The merchant's choices that change how any provider's events are read (see Settings);
    a provider's own options live with that provider."""

    customer_key_field: str = "customer_key"
    partner_key_field: str = "partner_key"
    commission_excludes_tax: bool = True


def transaction_key(provider: str, payment_id: str) -> str:
    """The affiliate API's transaction key for a payment: provider plus the payment's id."""
    return f"{provider}-{payment_id}"


@dataclass(frozen=True)
class CustomerProfile:
    """A provider's customer record changed: keep its email alias current. Paddle
    transactions carry only ``customer_id``, so email attribution needs this."""

    provider: str
    event_id: str
    event_type: str
    provider_customer_id: str
    email: str | None
    occurred_at: int = 0


NormalisedEvent = Payment | Reversal | PaymentAlias | Ignored | CustomerProfile
