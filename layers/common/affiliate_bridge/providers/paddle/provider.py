"""Paddle Billing as a webhook provider: ``Paddle-Signature`` and Paddle's notification envelope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from affiliate_bridge.domain.events import NormalisedEvent
from affiliate_bridge.providers.base import WebhookProvider
from affiliate_bridge.providers.paddle.events import PROVIDER, normalise_paddle_event
from affiliate_bridge.providers.paddle.signature import verify_paddle_signature


@dataclass(frozen=True)
class PaddleProvider(WebhookProvider):
    name: ClassVar[str] = PROVIDER
    signature_header: ClassVar[str] = "paddle-signature"
    id_field: ClassVar[str] = "event_id"
    type_field: ClassVar[str] = "event_type"

    def check_signature(self, body: bytes, header: str | None, secrets: tuple[str, ...]) -> None:
        verify_paddle_signature(body, header, secrets, self.tolerance_seconds)

    def normalise(self, payload: Mapping[str, Any]) -> NormalisedEvent:
        return normalise_paddle_event(payload, self.rules)
