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
