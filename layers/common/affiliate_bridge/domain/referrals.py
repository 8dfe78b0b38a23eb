"""Who referred whom, and the identifiers a customer can be recognised by.

A customer is known by the merchant's own key, by each payment provider's customer id,
and by the hash of their email. Referrals, payments and parked payments all speak of
customers through these ``(kind, value)`` identifiers; the kinds are built here, from
the provider's name, so no shared code needs to know which providers exist.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from affiliate_bridge.domain.events import CustomerRefs
from affiliate_bridge.domain.identity import email_hash

CUSTOMER_KEY = "customer_key"
EMAIL = "email"


def provider_customer_kind(provider: str) -> str:
    """The identifier kind of a provider's customer id (``stripe_customer``)."""
    return f"{provider}_customer"


Identifier = tuple[str, str]  # (kind, value); an email only ever as its hash


@dataclass(frozen=True)
class Referral:
    """Customer -> partner, as the merchant's site or the affiliate platform told us."""

    customer_key: str
    partner_key: str
    email: str | None = None
    # (provider, that provider's customer id) pairs, e.g. (("stripe", "cus_..."),).
    provider_customer_ids: tuple[tuple[str, str], ...] = ()
    source: str = "api"

    def customer_id(self, provider: str) -> str | None:
        return next((value for name, value in self.provider_customer_ids if name == provider), None)

    def identifiers(self) -> list[Identifier]:
        """What a payment parked before this referral existed may be filed under."""
        found: list[Identifier] = [(CUSTOMER_KEY, self.customer_key)]
        if self.email:
            found.append((EMAIL, email_hash(self.email)))
        found += [(provider_customer_kind(provider), value) for provider, value in self.provider_customer_ids]
        return found


def merged_customer_ids(
    newer: tuple[tuple[str, str], ...], older: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """The newer id per provider, else the older one."""
    known = dict(older)
    known.update(newer)
    return tuple(sorted(known.items()))


def payment_identifiers(provider: str, customer: CustomerRefs, hashed_email: str | None) -> list[Identifier]:
    """What a payment can later be matched by, in attribution precedence order."""
    found: list[Identifier] = []
    if customer.customer_key:
        found.append((CUSTOMER_KEY, customer.customer_key))
    if customer.provider_customer_id:
        found.append((provider_customer_kind(provider), customer.provider_customer_id))
    if hashed_email:
        found.append((EMAIL, hashed_email))
    return found


class AttributionRule(enum.StrEnum):
    CUSTOMER_KEY = "customer_key"
    PROVIDER_CUSTOMER = "provider_customer_id"
    EMAIL = "email"
    PARTNER_HINT = "partner_hint"
    # A parked payment matched by a referral that arrived later (late attribution).
    LATE_CUSTOMER_KEY = "late:customer_key"
    LATE_PROVIDER_CUSTOMER = "late:provider_customer_id"
    LATE_EMAIL = "late:email"


def late_rule(kind: str) -> AttributionRule:
    """The rule a parked payment is credited under when found by an identifier of ``kind``."""
    if kind == CUSTOMER_KEY:
        return AttributionRule.LATE_CUSTOMER_KEY
    if kind == EMAIL:
        return AttributionRule.LATE_EMAIL
    return AttributionRule.LATE_PROVIDER_CUSTOMER


@dataclass(frozen=True)
class Attribution:
    """Who gets the commission, and the trail of rules tried to find out."""

    customer_key: str | None
    partner_key: str | None
    rule: AttributionRule | None
    tried: tuple[str, ...] = field(default=())
    # The email hash the email rule used (the payment's, or the provider's profile for its
    # customer id), so parking an unmatched payment does not look it up again.
    email_hash: str | None = None
    # Matched by the merchant's key, and the provider's customer id already names that
    # customer (its alias came in the same batched read): nothing to learn, no write.
    provider_id_linked: bool = False

    @property
    def attributed(self) -> bool:
        return self.partner_key is not None and self.customer_key is not None


class ReferralOutcome(enum.StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"  # last touch replaced the partner
    CONFLICT = "conflict"  # first touch kept the existing partner
    STALE = "stale"  # the platform already applied a newer delivery for this customer
    DELETED = "deleted"
    UNKNOWN_CUSTOMER = "unknown_customer"  # deleted before we ever knew it (tombstone kept)


@dataclass(frozen=True)
class ParkedPayment:
    """A sale that matched no referral yet, as kept for a late one (no email: only its
    hash, in the identifier it is filed under)."""

    transaction_key: str
    provider: str
    event_id: str
    event_type: str
    occurred_at: int
    paid_minor: int
    commissionable_minor: int
    currency: str
    expires_at: int
    # Keys reversals of this money may be filed under until its own key is linked
    # (messages.alias_keys): the released sale pulls them in.
    alias_keys: tuple[str, ...] = ()
