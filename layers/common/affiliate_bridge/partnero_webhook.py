"""The affiliate platform's own webhooks (Partnero ``customer.*``), so sites that already
use its JavaScript for signups need no backend code: the table follows the platform.

Partnero signs each delivery with a ``Signature`` header: hex HMAC-SHA256 of the raw body
keyed with the webhook's signing secret (no timestamp in the scheme, so there is no
replay window to check; replays only re-apply the same customer state). Envelope:
``{"event", "url", "webhook_key", "created_at", "data": {customer}}``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from affiliate_bridge.domain import MalformedEvent
from affiliate_bridge.signing import SignatureError, any_signature_matches

CUSTOMER_EVENTS = ("customer.created", "customer.updated", "customer.deleted")


class PlatformAction(enum.StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"
    IGNORE = "ignore"


@dataclass(frozen=True)
class PlatformCustomerEvent:
    event: str
    action: PlatformAction
    customer_key: str | None = None
    partner_key: str | None = None
    email: str | None = None


def verify_partnero_signature(body: bytes, header: str | None, secrets: tuple[str, ...]) -> None:
    if not secrets:
        raise SignatureError("no_secret_configured", "no Partnero webhook secret is configured")
    if not header:
        raise SignatureError("missing_header", "Signature header is missing")
    if not any_signature_matches(secrets, body, [header]):
        raise SignatureError("signature_mismatch", "Signature does not match the body")


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def parse_platform_event(payload: Mapping[str, Any]) -> PlatformCustomerEvent:
    event = payload.get("event")
    if not isinstance(event, str) or not event:
        raise MalformedEvent("webhook needs an event name")
    if event not in CUSTOMER_EVENTS:
        return PlatformCustomerEvent(event, PlatformAction.IGNORE)
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise MalformedEvent("webhook data must be an object")
    customer_key = _text(data.get("key")) or _text(data.get("id"))
    if customer_key is None:
        raise MalformedEvent("customer webhook without data.key")
    if event == "customer.deleted" or data.get("deleted") is True:
        return PlatformCustomerEvent(event, PlatformAction.DELETE, customer_key)
    partner = data.get("partner")
    partner_key = _text(partner.get("key")) if isinstance(partner, Mapping) else _text(partner)
    if partner_key is None:
        raise MalformedEvent("customer webhook without a partner")
    return PlatformCustomerEvent(event, PlatformAction.UPSERT, customer_key, partner_key, _text(data.get("email")))
