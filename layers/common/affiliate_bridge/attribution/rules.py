"""Which partner referred the paying customer: first match wins, every step recorded.

Precedence: the merchant's customer key, then the provider's customer id, then the email
(the payment's own, else the one the provider's customer profile holds).
The trail in ``Attribution.tried`` names each rule and whether it hit, never the email.
Every candidate is known before the first lookup, so the store is asked for all of them
at once (``read_ahead``) and the rules below read the answers in precedence order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from affiliate_bridge.domain.events import CustomerRefs
from affiliate_bridge.domain.identity import email_hash
from affiliate_bridge.domain.referrals import (
    EMAIL,
    Attribution,
    AttributionRule,
    Identifier,
    Referral,
    provider_customer_kind,
)

if TYPE_CHECKING:  # types only: a webhook's cold start does not load the ports
    from affiliate_bridge.ports import ReferralLookup


def _read_ahead(provider: str, customer: CustomerRefs, referrals: ReferralLookup) -> ReferralLookup:
    """Every item the rules below may read, asked for at once."""
    provider_id = customer.provider_customer_id
    candidates: list[Identifier] = []
    if provider_id:
        candidates.append((provider_customer_kind(provider), provider_id))
    if customer.email:
        candidates.append((EMAIL, email_hash(customer.email)))
    profile = (provider, provider_id) if provider_id and not customer.email else None
    return referrals.read_ahead(customer.customer_key, candidates, profile)


def attribute(provider: str, customer: CustomerRefs, referrals: ReferralLookup) -> Attribution:
    tried: list[str] = []
    provider_id = customer.provider_customer_id
    referrals = _read_ahead(provider, customer, referrals)

    def found(rule: AttributionRule, referral: Referral, provider_id_linked: bool = False) -> Attribution:
        tried.append(f"{rule}:matched")
        return Attribution(
            referral.customer_key, referral.partner_key, rule, tuple(tried), provider_id_linked=provider_id_linked
        )

    if customer.customer_key:
        referral = referrals.find_referral(customer.customer_key)
        if referral:
            linked = (
                provider_id is not None
                and referrals.find_customer_key(provider_customer_kind(provider), provider_id) == customer.customer_key
            )
            return found(AttributionRule.CUSTOMER_KEY, referral, linked)
        tried.append(f"{AttributionRule.CUSTOMER_KEY}:no referral")
    else:
        tried.append(f"{AttributionRule.CUSTOMER_KEY}:absent")

    hashed_email: str | None = None
    candidates: list[tuple[AttributionRule, str, str | None]] = [
        (AttributionRule.PROVIDER_CUSTOMER, provider_customer_kind(provider), provider_id),
        (AttributionRule.EMAIL, EMAIL, None),
    ]
    for rule, kind, value in candidates:
        if rule is AttributionRule.EMAIL:
            # Looked up only when needed: the payment's own email, else the one the
            # provider told us for this customer id (customer.* events).
            if customer.email:
                value = email_hash(customer.email)
            elif provider_id:
                value = referrals.find_email_hash(provider, provider_id)
            hashed_email = value
        if not value:
            tried.append(f"{rule}:absent")
            continue
        customer_key = referrals.find_customer_key(kind, value)
        referral = referrals.find_referral(customer_key) if customer_key else None
        if referral:
            return found(rule, referral)
        tried.append(f"{rule}:no referral")
    return Attribution(None, None, None, tuple(tried), hashed_email)
