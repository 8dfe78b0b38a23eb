"""Normalised, hashed customer identifiers.

Emails are matched by a SHA-256 of the trimmed, lower-cased address: the table never
holds the address itself, and the hash is what logs may show.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re


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


# Deliberately generous (quoted local parts, plus-addressing, IDN domains as punycode):
# a false positive costs a hash in a log line, a false negative leaks an address.
_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def redact_emails(text: str) -> str:
    """Every email address in ``text`` replaced by the form ``loggable_key`` uses."""
    if "@" not in text:
        return text
    return _EMAIL.sub(lambda match: "email-sha256:" + email_hash(match.group(0))[:16], text)


def truncated_ip(address: str | None) -> str | None:
    """A source address as logs may show it: the network (/24 for IPv4, /48 for IPv6),
    enough to see a flood from one place, not enough to name a person."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "unparseable"
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
