"""Facts about one payment or customer, as the forwarder folds them.

A fact is the same whether it travels on the queue (``messages``) or is kept in the
payment's state (``forwarding.state``): neither owns it, both build on it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SaleFacts:
    paid_minor: int
    commissionable_minor: int
    currency: str
    customer_key: str
    partner_key: str
    attribution_rule: str
    customer_email: str | None = None
    # True when this payment itself created the referral (a partner key on a
    # checkout-only sale): the customer is created together with the transaction.
    create_customer: bool = False


@dataclass(frozen=True)
class ReversalFacts:
    reason: str  # refund | dispute
    source_id: str
    reversed_minor: int  # cumulative for source_id
    currency: str
    dispute_status: str | None = None


@dataclass(frozen=True)
class CustomerFacts:
    """A signup to mirror at the affiliate API (CREATE_CUSTOMER_ON_REFERRAL)."""

    customer_key: str
    partner_key: str
    customer_email: str | None = None
    # A reassignment (last touch): the API holds the customer under another partner and
    # cannot change a customer's partner, so the old record is set aside (renamed) and the
    # customer created again under this partner.
    reassigned_at: int | None = None


@dataclass(frozen=True)
class ObservedFacts:
    """What the affiliate API was seen holding for one payment (``reconcile``).

    ``applied_key`` is the transaction the payment's state named when the API was read:
    the forwarder applies the observation only if the state still names it, since any
    call it made in between makes the observation stale. ``held`` lists the bridge's
    transactions for this payment the API holds, key and minor units, sorted.
    """

    applied_key: str | None
    held: tuple[tuple[str, int], ...] = ()

    def amount_of(self, key: str) -> int | None:
        return next((minor for held_key, minor in self.held if held_key == key), None)
