"""The affiliate platform's own webhooks (Partnero ``customer.*``), so sites that already
use its JavaScript for signups need no backend code: the table follows the platform.

Partnero signs each delivery with a ``Signature`` header: hex HMAC-SHA256 of the raw body
keyed with the webhook's signing secret. Envelope:
``{"event", "url", "webhook_key", "created_at", "data": {customer}}``.

The scheme signs no timestamp, so a captured delivery can be replayed at any time, and a
late retry can arrive after a newer one. Deliveries are therefore ordered by the time the
payload itself carries (``created_at``, else ``data.updated_at``, in milliseconds): the
store applies one only when it is newer than the last one applied for that customer, so a
stale ``customer.updated`` cannot undo a reassignment and a replayed ``customer.created``
cannot revive a deleted customer. A time that is not one is refused (400); a delivery
with no time at all is ordered by its arrival.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from affiliate_bridge.errors import MalformedEvent, SignatureError
from affiliate_bridge.providers.signing import any_signature_matches

PLATFORM = "partnero"  # the affiliate platform, as referral source and as path (/partnero)
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
    occurred_at_ms: int = 0  # the payload's own time: orders deliveries per customer


def verify_partnero_signature(body: bytes, header: str | None, secrets: tuple[str, ...]) -> None:
    if not secrets:
        raise SignatureError("no_secret_configured", "no Partnero webhook secret is configured")
    if not header:
        raise SignatureError("missing_header", "Signature header is missing")
    if not any_signature_matches(secrets, body, [header]):
        raise SignatureError("signature_mismatch", "Signature does not match the body")


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


# Plausible times only: 2000-01-01 to 9999-12-31, in milliseconds.
_EARLIEST_MS, _LATEST_MS = 946_684_800_000, 253_402_300_799_000


def _time_ms(value: Any) -> int | None:
    """ISO 8601 (``2026-11-23T10:00:00.000000Z``, ``2026-11-23 10:00:00``) or unix seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not _EARLIEST_MS <= value * 1000 <= _LATEST_MS:  # also NaN and infinities
            return None
        ms = int(value * 1000)
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # the platform writes UTC
        try:
            ms = int(parsed.timestamp() * 1000)
        except (OverflowError, OSError):
            return None
    else:
        return None
    return ms if _EARLIEST_MS <= ms <= _LATEST_MS else None


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
    stamp = payload.get("created_at", data.get("updated_at"))
    occurred_at_ms = _time_ms(stamp)
    if occurred_at_ms is None:
        if stamp is not None:
            raise MalformedEvent(f"customer webhook created_at {str(stamp)[:40]!r} is not a time")
        # No time at all (an older or hand-made sender): ordered by its arrival instead.
        occurred_at_ms = int(time.time() * 1000)
    if event == "customer.deleted" or data.get("deleted") is True:
        return PlatformCustomerEvent(event, PlatformAction.DELETE, customer_key, occurred_at_ms=occurred_at_ms)
    partner = data.get("partner")
    partner_key = _text(partner.get("key")) if isinstance(partner, Mapping) else _text(partner)
    if partner_key is None:
        raise MalformedEvent("customer webhook without a partner")
    return PlatformCustomerEvent(
        event, PlatformAction.UPSERT, customer_key, partner_key, _text(data.get("email")), occurred_at_ms
    )
