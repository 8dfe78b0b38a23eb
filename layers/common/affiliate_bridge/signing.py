"""HMAC-SHA256 checks shared by every provider's signature scheme.

Each secret is tried against each candidate signature with ``hmac.compare_digest`` so the
time taken does not reveal how many leading characters matched. Several secrets are
accepted at once because providers rotate them with an overlap.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence


class SignatureError(Exception):
    """The request is not provably from the provider. ``code`` says which check failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def any_signature_matches(secrets: Sequence[str], signed_payload: bytes, candidates: Iterable[str]) -> bool:
    """True when some secret signs ``signed_payload`` to some candidate hex digest."""
    expected = [hmac_sha256_hex(secret, signed_payload) for secret in secrets if secret]
    matched = False
    for candidate in candidates:
        for digest in expected:
            # No early return: every pair is compared, so timing says nothing either way.
            matched |= hmac.compare_digest(digest, candidate.strip().lower())
    return matched


def split_secrets(value: str | None) -> tuple[str, ...]:
    """Secrets are configured as one comma-separated string (old and new during rotation)."""
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())
