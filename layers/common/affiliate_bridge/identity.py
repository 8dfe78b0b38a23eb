"""Normalised, hashed customer identifiers.

Emails are matched by a SHA-256 of the trimmed, lower-cased address: the table never
holds the address itself, and the hash is what logs may show.
"""

from __future__ import annotations

import hashlib


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_hash(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode("utf-8")).hexdigest()


def loggable_key(value: str | None) -> str | None:
    """A customer key as logs may show it. Merchants may use emails as customer keys
    (the platform's docs suggest it); those are logged as a short hash instead."""
    if value is None or "@" not in value:
        return value
    return "email-sha256:" + email_hash(value)[:16]
