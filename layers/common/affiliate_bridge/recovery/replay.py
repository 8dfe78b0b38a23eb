"""Feed an event fetched from a provider's API through the webhook's own path.

Backfill and the scheduled reconciler recover events that never reached the bridge (the
stack was down longer than the provider retries, an event type was not enabled, a
secret was mistyped). The event comes from the provider's API with the merchant's API
key, so there is no signature to check; from there it takes the webhook's path exactly:
the provider's reader, the same validation, the same intake.

Idempotent against the ledger: an event the ledger already holds (in any outcome but
"rejected") is not fed again, and neither is a sale whose payment a sale event already
named (an event rebuilt from object lists has its own id, but the same money). So a
second run changes nothing, and whatever slips through (a refund rebuilt from a charge)
is folded by the forwarder into the facts it already holds.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from affiliate_bridge.attribution.intake import Intake, Outcome
from affiliate_bridge.domain.events import Payment
from affiliate_bridge.domain.validation import is_valid_id, validate_event
from affiliate_bridge.errors import MalformedEvent
from affiliate_bridge.ports import KnownEvents
from affiliate_bridge.providers.base import WebhookProvider

REJECTED_OUTCOME = "rejected"


class ReplayStatus(enum.StrEnum):
    NEW = "new"
    KNOWN = "already known"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Replayed:
    event_id: str
    event_type: str
    status: ReplayStatus
    outcome: str | None = None  # the intake's outcome, for a new event
    credited: bool = False  # a new sale attributed to a partner and queued
    reason: str | None = None

    @property
    def unattributed(self) -> bool:
        return self.outcome == str(Outcome.UNATTRIBUTED)


@dataclass(frozen=True)
class Replayer:
    provider: WebhookProvider
    intake: Intake
    known: KnownEvents

    def replay(self, payload: Mapping[str, Any]) -> Replayed:
        event_id = self.provider.event_id(payload) or ""
        event_type = self.provider.event_type(payload) or "unknown"
        if not is_valid_id(event_id):
            return Replayed(event_id or "(none)", event_type, ReplayStatus.REJECTED, reason="no readable event id")
        recorded = self.known.event_outcome(self.provider.name, event_id)
        if recorded is not None and recorded != REJECTED_OUTCOME:
            return Replayed(event_id, event_type, ReplayStatus.KNOWN, outcome=recorded)
        try:
            normalised = self.provider.normalise(payload)
            validate_event(normalised)
        except MalformedEvent as exc:
            self.intake.ledger.record_rejection(self.provider.name, event_id, event_type, str(exc))
            return Replayed(event_id, event_type, ReplayStatus.REJECTED, reason=str(exc))
        if isinstance(normalised, Payment) and self.known.has_sale(normalised.transaction_key):
            return Replayed(
                event_id, event_type, ReplayStatus.KNOWN, reason=f"{normalised.transaction_key}: its sale arrived"
            )
        result = self.intake.accept(normalised)
        credited = isinstance(normalised, Payment) and result.outcome is Outcome.ENQUEUED
        return Replayed(event_id, event_type, ReplayStatus.NEW, str(result.outcome), credited, result.reason)
