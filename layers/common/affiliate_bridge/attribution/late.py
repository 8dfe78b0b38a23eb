"""Late attribution: a referral that arrives after its customer paid still earns.

When a referral is stored (backend call or platform webhook), every payment parked under
one of its identifiers within LATE_ATTRIBUTION_DAYS is sent to the forwarder, once: the
message goes first and the "released" mark after, so a failure in between can only send
the same fact twice, which the forwarder folds into one transaction (same key). Nothing
is claimed that was not sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from affiliate_bridge.domain.facts import SaleFacts
from affiliate_bridge.domain.messages import TransactionMessage
from affiliate_bridge.domain.referrals import AttributionRule, ParkedPayment, Referral, late_rule

if TYPE_CHECKING:  # types only: a webhook's cold start does not load the ports
    from affiliate_bridge.ports import EventLedger, Parking, Queue


@dataclass(frozen=True)
class LateAttribution:
    parked: Parking
    queue: Queue
    ledger: EventLedger

    def release(self, referral: Referral, email: str | None = None) -> list[str]:
        """Send every payment parked under the referral's identifiers; returns their keys."""
        released: list[str] = []
        for kind, value in referral.identifiers():
            for parked in self.parked.find(kind, value):
                if parked.transaction_key in released or self.parked.is_released(parked.transaction_key):
                    continue
                rule = late_rule(kind)
                message_id = self.queue.send(self._message(parked, referral, rule, email))
                self.parked.mark_released(parked.transaction_key, referral.customer_key, str(rule), parked.expires_at)
                self.ledger.record_event(
                    parked.provider,
                    parked.event_id,
                    parked.event_type,
                    "enqueued_late",
                    count_delivery=False,
                    transaction_key=parked.transaction_key,
                    message_id=message_id,
                    attribution_rule=str(rule),
                    partner_key=referral.partner_key,
                    customer_key=referral.customer_key,
                    reason=f"parked payment matched a referral by {kind}",
                )
                released.append(parked.transaction_key)
        return released

    @staticmethod
    def _message(
        parked: ParkedPayment, referral: Referral, rule: AttributionRule, email: str | None
    ) -> TransactionMessage:
        return TransactionMessage(
            alias_keys=parked.alias_keys,
            provider=parked.provider,
            event_id=parked.event_id,
            event_type=parked.event_type,
            transaction_key=parked.transaction_key,
            occurred_at=parked.occurred_at,
            sale=SaleFacts(
                paid_minor=parked.paid_minor,
                commissionable_minor=parked.commissionable_minor,
                currency=parked.currency,
                customer_key=referral.customer_key,
                partner_key=referral.partner_key,
                attribution_rule=str(rule),
                customer_email=email,
            ),
        )
