"""Stripe-Signature verification on the raw body.

Written on ``hmac`` rather than ``stripe.Webhook.construct_event``: importing ``stripe``
adds about 100 ms to a cold start and ``construct_event`` spends about 1.5 ms per event
building StripeObjects we do not use. The rules are Stripe's own (stripe-python
``_webhook.py``): signed payload ``"{t}.{body}"``, only the ``v1`` scheme counts, any
``v1`` may match (Stripe sends one per active secret), and a timestamp older than the
tolerance is refused to stop replays.
"""

from __future__ import annotations

from affiliate_bridge.signing import SignatureError, verify_timestamped_signature

EXPECTED_SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError("malformed_header", "Stripe-Signature items must be key=value")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError as exc:
                raise SignatureError("malformed_header", "Stripe-Signature t is not an integer") from exc
        elif key == EXPECTED_SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("malformed_header", "Stripe-Signature has no timestamp")
    return timestamp, signatures


def verify_stripe_signature(
    body: bytes,
    header: str | None,
    secrets: tuple[str, ...],
    tolerance_seconds: int | None = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Raise ``SignatureError`` unless ``header`` proves ``body`` came from Stripe.

    Returns the signed timestamp. ``tolerance_seconds`` of None or 0 disables the replay
    check (only for replaying recorded vectors in tests).
    """
    return verify_timestamped_signature(
        body,
        header,
        secrets,
        header_name="Stripe-Signature",
        parse=_parse_header,
        separator=b".",
        scheme=EXPECTED_SCHEME,
        tolerance_seconds=tolerance_seconds,
        now=now,
        future_counts=False,
    )
