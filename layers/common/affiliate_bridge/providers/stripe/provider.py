"""Stripe as a webhook provider: ``Stripe-Signature`` and Stripe's event envelope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from affiliate_bridge.domain.events import NormalisedEvent
from affiliate_bridge.providers.base import WebhookProvider
from affiliate_bridge.providers.stripe.events import PROVIDER, StripeOptions, normalise_stripe_event
from affiliate_bridge.providers.stripe.signature import verify_stripe_signature


@dataclass(frozen=True)
class StripeProvider(WebhookProvider):
    name: ClassVar[str] = PROVIDER
    signature_header: ClassVar[str] = "stripe-signature"
    id_field: ClassVar[str] = "id"
    type_field: ClassVar[str] = "type"

    options: StripeOptions = field(default_factory=StripeOptions)

    def check_signature(self, body: bytes, header: str | None, secrets: tuple[str, ...]) -> None:
        verify_stripe_signature(body, header, secrets, self.tolerance_seconds)

    def normalise(self, payload: Mapping[str, Any]) -> NormalisedEvent:
        return normalise_stripe_event(payload, self.rules, self.options)
