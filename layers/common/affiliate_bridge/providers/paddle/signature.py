"""Paddle-Signature verification on the raw body (Paddle Billing notifications).

Header ``ts=<unix seconds>;h1=<hex>[;h1=<hex>...]``: HMAC-SHA256 over ``"{ts}:{body}"``
with the notification destination's secret key. Several ``h1`` values appear while Paddle
rotates a secret; unknown keys are ignored (room for new schemes, as Paddle's SDKs do);
whitespace around items is tolerated.

Tolerance: Paddle's SDKs allow 5 s between ``ts`` and verification. A Lambda cold start
plus Paddle's own queueing can spend most of that before our code runs, and a refused
delivery is only retried later, so the default here is 30 s (PADDLE_TOLERANCE_SECONDS);
replay protection still holds because the signature covers ``ts``.
"""

from __future__ import annotations

from affiliate_bridge.providers.signing import TimestampedScheme

EXPECTED_SCHEME = "h1"
DEFAULT_TOLERANCE_SECONDS = 30


SCHEME = TimestampedScheme(
    header_name="Paddle-Signature",
    item_separator=";",
    timestamp_key="ts",
    separator=b":",
    scheme=EXPECTED_SCHEME,
    default_tolerance_seconds=DEFAULT_TOLERANCE_SECONDS,
    future_counts=True,
)
verify_paddle_signature = SCHEME.verify
