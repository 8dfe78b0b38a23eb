"""The referral use case: store who referred whom, then act on what changed.

Two senders tell the bridge about referrals: the merchant's backend (after a signup) and
the affiliate platform (its customer webhooks). Either way a stored referral releases the
payments parked for it (late attribution). What differs:

* the backend follows the merchant's first- or last-touch choice; a last-touch move is
  carried to the affiliate API (which cannot change a customer's partner, so the
  forwarder sets the old record aside), and with CREATE_CUSTOMER_ON_REFERRAL the signup
  is mirrored there;
* the platform is the affiliate API: its reassignment (``customer.updated``) always
  wins, nothing is moved or mirrored back, and its deliveries are ordered by the time in
  their payload, so an older one arriving late changes nothing.

The HTTP answers, metrics and logs are the endpoint's (``edge.referrals_endpoint``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from affiliate_bridge.attribution.late import LateAttribution
from affiliate_bridge.domain.messages import customer_message
from affiliate_bridge.domain.referrals import Referral, ReferralOutcome, merged_customer_ids

if TYPE_CHECKING:  # types only: a webhook's cold start does not load the ports
    from affiliate_bridge.ports import Queue, ReferralStore


@dataclass(frozen=True)
class ReferralResult:
    outcome: ReferralOutcome
    current: Referral  # the referral in force after this one
    released: tuple[str, ...] = ()  # parked payments sent because of it
    reassigned: bool = False  # a last-touch move was queued for the affiliate API


@dataclass(frozen=True)
class ReferralIntake:
    store: ReferralStore
    late: LateAttribution
    queue: Queue
    last_touch: bool = False
    mirror_customers: bool = False

    def from_backend(self, referral: Referral) -> ReferralResult:
        outcome, current = self.store.put_referral(referral, last_touch=self.last_touch)
        result = self._after_store(referral, outcome, current)
        if result.outcome is ReferralOutcome.UPDATED:
            # Last touch moved the customer here; the affiliate API still holds the old partner.
            now = int(time.time())
            self.queue.send(
                customer_message(
                    current.customer_key, current.partner_key, referral.email, f"reassign-{now}", reassigned_at=now
                )
            )
            result = ReferralResult(result.outcome, result.current, result.released, reassigned=True)
        # UNCHANGED too: when the enqueue failed after the referral was stored, the caller's
        # retry finds it unchanged and must still mirror it. A repeat costs nothing: SQS drops
        # the same message within five minutes, and the API answers "exists" after that.
        if self.mirror_customers and outcome in (ReferralOutcome.CREATED, ReferralOutcome.UNCHANGED):
            self.queue.send(customer_message(current.customer_key, current.partner_key, referral.email, "signup"))
        return result

    def from_platform(self, referral: Referral, occurred_at_ms: int, reassignment: bool) -> ReferralResult:
        """``reassignment``: the platform's own ``customer.updated``, authoritative."""
        outcome, current = self.store.put_referral(
            referral, last_touch=self.last_touch or reassignment, platform_at_ms=occurred_at_ms
        )
        if outcome is ReferralOutcome.STALE:
            return ReferralResult(outcome, current)
        return self._after_store(referral, outcome, current)

    def platform_deleted(self, customer_key: str, occurred_at_ms: int, source: str) -> ReferralOutcome:
        return self.store.mark_deleted(customer_key, occurred_at_ms, source)

    def _after_store(self, referral: Referral, outcome: ReferralOutcome, current: Referral) -> ReferralResult:
        if outcome is ReferralOutcome.CONFLICT:
            return ReferralResult(outcome, current)
        in_force = Referral(
            customer_key=current.customer_key,
            partner_key=current.partner_key,
            email=referral.email,
            provider_customer_ids=merged_customer_ids(referral.provider_customer_ids, current.provider_customer_ids),
            source=current.source,
        )
        released = self.late.release(in_force, email=referral.email)
        return ReferralResult(outcome, current, tuple(released))
