"""HMAC-SHA256 checks shared by every provider's signature scheme.

Each secret is tried against each candidate signature with ``hmac.compare_digest`` so the
time taken does not reveal how many leading characters matched. Several secrets are
accepted at once because providers rotate them with an overlap.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from affiliate_bridge.errors import SignatureError


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def any_signature_matches(secrets: Sequence[str], signed_payload: bytes, candidates: Iterable[str]) -> bool:
    """True when some secret signs ``signed_payload`` to some candidate hex digest.

    Compared as bytes: ``compare_digest`` refuses a ``str`` with non-ASCII characters
    (TypeError), and a header is whatever the sender typed (``v1=é``). A candidate that
    is not ASCII can never equal a hex digest, so it simply does not match.
    """
    expected = [hmac_sha256_hex(secret, signed_payload).encode("ascii") for secret in secrets if secret]
    matched = False
    for candidate in candidates:
        presented = candidate.strip().lower().encode("utf-8", "surrogatepass")
        for digest in expected:
            # No early return: every pair is compared, so timing says nothing either way.
            matched |= hmac.compare_digest(digest, presented)
    return matched


def split_secrets(value: str | None) -> tuple[str, ...]:
    """Secrets are configured as one comma-separated string (old and new during rotation)."""
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_signature_header(
    header: str, *, header_name: str, item_separator: str, timestamp_key: str, scheme: str
) -> tuple[int, list[str]]:
    """``k=v`` items -> (timestamp, signatures of ``scheme``). Whitespace around items and
    empty items are tolerated; unknown keys (other schemes) are ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(item_separator):
        if not item.strip():
            continue
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError("malformed_header", f"{header_name} items must be key=value")
        key, value = key.strip(), value.strip()
        if key == timestamp_key:
            # ASCII digits only: int() would also read Arabic-Indic digits or "1_700", and a
            # timestamp over 12 digits is not a time anybody signs.
            if not (value.isascii() and value.isdigit() and len(value) <= 12):
                raise SignatureError("malformed_header", f"{header_name} {timestamp_key} is not a unix time")
            timestamp = int(value)
        elif key == scheme:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("malformed_header", f"{header_name} has no {timestamp_key}")
    return timestamp, signatures


def verify_timestamped_signature(
    body: bytes,
    header: str | None,
    secrets: tuple[str, ...],
    *,
    header_name: str,
    item_separator: str,
    timestamp_key: str,
    separator: bytes,
    scheme: str,
    tolerance_seconds: int | None,
    now: float | None,
    future_counts: bool,
) -> int:
    """The check Stripe and Paddle share: HMAC over ``{timestamp}{separator}{body}``, any
    candidate signature of the expected scheme may match, then the replay window.

    ``future_counts``: Paddle bounds the clock gap both ways; Stripe only refuses old
    timestamps (as stripe-python does). Returns the signed timestamp.
    """
    if not secrets:
        raise SignatureError("no_secret_configured", f"no secret is configured to verify {header_name}")
    if tolerance_seconds is not None and tolerance_seconds <= 0:
        # A zero tolerance used to mean "no replay check"; now only tests that replay
        # recorded vectors may skip it, by passing None explicitly.
        raise ValueError(f"{header_name} tolerance must be positive, not {tolerance_seconds}")
    if not header:
        raise SignatureError("missing_header", f"{header_name} header is missing")
    timestamp, signatures = parse_signature_header(
        header, header_name=header_name, item_separator=item_separator, timestamp_key=timestamp_key, scheme=scheme
    )
    if not signatures:
        raise SignatureError(f"no_{scheme}_signature", f"No signatures found with expected scheme {scheme}")
    if not any_signature_matches(secrets, str(timestamp).encode("ascii") + separator + body, signatures):
        raise SignatureError("signature_mismatch", "No signatures found matching the expected signature")
    current = time.time() if now is None else now
    gap = abs(current - timestamp) if future_counts else current - timestamp
    if tolerance_seconds is not None and gap > tolerance_seconds:
        raise SignatureError("timestamp_outside_tolerance", f"{header_name} timestamp is outside the tolerance zone")
    return timestamp


class _SchemeDefault(enum.Enum):
    """Marks "not given" apart from ``None`` (which disables the replay check)."""

    TOLERANCE = enum.auto()


@dataclass(frozen=True)
class TimestampedScheme:
    """One provider's way of writing the shared check: its header, separators, scheme
    name, default tolerance and clock rule. ``verify`` is that provider's verifier."""

    header_name: str
    item_separator: str
    timestamp_key: str
    separator: bytes
    scheme: str
    default_tolerance_seconds: int
    future_counts: bool

    def verify(
        self,
        body: bytes,
        header: str | None,
        secrets: tuple[str, ...],
        tolerance_seconds: int | _SchemeDefault | None = _SchemeDefault.TOLERANCE,
        now: float | None = None,
    ) -> int:
        """Raise ``SignatureError`` unless ``header`` proves ``body`` came from the provider;
        returns the signed timestamp. Without ``tolerance_seconds`` the scheme's default
        applies; ``None`` disables the replay check (only for replaying recorded vectors in
        tests); zero or less is refused (ValueError), never read as "no limit"."""
        return verify_timestamped_signature(
            body,
            header,
            secrets,
            header_name=self.header_name,
            item_separator=self.item_separator,
            timestamp_key=self.timestamp_key,
            separator=self.separator,
            scheme=self.scheme,
            tolerance_seconds=(
                self.default_tolerance_seconds if tolerance_seconds is _SchemeDefault.TOLERANCE else tolerance_seconds
            ),
            now=now,
            future_counts=self.future_counts,
        )
