"""Sign webhook bodies the way the providers do, for the CLI, tests and benchmarks."""

from __future__ import annotations

import time

from affiliate_bridge.providers.signing import hmac_sha256_hex


def stripe_signature_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={hmac_sha256_hex(secret, str(ts).encode() + b'.' + body)}"


def paddle_signature_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    return f"ts={ts};h1={hmac_sha256_hex(secret, str(ts).encode() + b':' + body)}"


def partnero_signature_header(body: bytes, secret: str) -> str:
    """Partnero's ``Signature``: hex HMAC-SHA256 of the raw body."""
    return hmac_sha256_hex(secret, body)
