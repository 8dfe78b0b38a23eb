"""Bounds on everything a normalised event carries, checked before anything is stored.

A provider module reads a signed payload into a ``NormalisedEvent``; signed does not mean
sane (a leaked secret, a test tool, a provider bug). Whatever is answered 2xx must be
storable in DynamoDB, sendable to SQS and acceptable to the forwarder, or the message
would fail there for half an hour and then block its payment's queue group from the
dead-letter queue. So the rules for what travels on are written once, here, for every
provider, and a violation is a ``MalformedEvent`` (400, nothing stored):

* ids (events, payments, customers at the provider, refunds, disputes): printable ASCII
  without spaces, at most ``MAX_ID_LENGTH``; every provider's ids are far shorter, and
  they end up in DynamoDB keys (at most 1,024 bytes) and the affiliate API's keys;
* the merchant's own strings (customer keys, partner keys from metadata): at most
  ``MAX_TEXT_LENGTH`` characters, no control characters;
* emails: at most 320 characters (RFC 5321), one ``@``, no spaces or control characters;
* amounts: non-negative, within a 64-bit integer (``Money`` already refuses more);
* times: unix seconds between 0 and the year 9999.
"""

from __future__ import annotations

import re
import unicodedata

from affiliate_bridge.domain.events import (
    CustomerProfile,
    CustomerRefs,
    Ignored,
    NormalisedEvent,
    Payment,
    PaymentAlias,
    Reversal,
)
from affiliate_bridge.domain.money import Money
from affiliate_bridge.domain.referrals import Referral
from affiliate_bridge.errors import MalformedEvent

MAX_ID_LENGTH = 255
MAX_TEXT_LENGTH = 500  # Stripe's limit for a metadata value; within DynamoDB's 2,048-byte keys
MAX_EMAIL_LENGTH = 320
LATEST_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z
_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_ID_LENGTH}}}")


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _id(field: str, value: str) -> None:
    if not is_valid_id(value):
        raise MalformedEvent(f"{field} must be 1 to {MAX_ID_LENGTH} printable ASCII characters without spaces")


def _text(field: str, value: str | None) -> None:
    if value is None:
        return
    if not value or len(value) > MAX_TEXT_LENGTH or any(unicodedata.category(ch)[0] == "C" for ch in value):
        raise MalformedEvent(f"{field} must be 1 to {MAX_TEXT_LENGTH} characters without control characters")


def _email(value: str | None) -> None:
    if value is None:
        return
    if (
        len(value) > MAX_EMAIL_LENGTH
        or value.count("@") != 1
        or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in value)
    ):
        raise MalformedEvent(f"email must be an address of at most {MAX_EMAIL_LENGTH} characters")


def _amount(field: str, money: Money) -> None:
    if money.amount_minor < 0:
        raise MalformedEvent(f"{field} must not be negative")


def _time(value: int) -> None:
    if not 0 <= value <= LATEST_TIMESTAMP:
        raise MalformedEvent("the event time is not a plausible unix time")


def _customer(refs: CustomerRefs) -> None:
    _text("customer key", refs.customer_key)
    _text("partner key", refs.partner_hint)
    if refs.provider_customer_id is not None:
        _id("customer id", refs.provider_customer_id)
    _email(refs.email)


def _refs(refs: tuple[str, ...]) -> None:
    for ref in refs:
        _id("payment reference", ref)


def _payment(event: Payment) -> None:
    _id("transaction key", event.transaction_key)
    _refs(event.payment_refs)
    if event.same_money_as is not None:
        _id("payment reference", event.same_money_as)
    _amount("amount paid", event.paid)
    _amount("commissionable amount", event.commissionable)
    _time(event.occurred_at)
    _customer(event.customer)


def _reversal(event: Reversal) -> None:
    _id("reversal source", event.source_id)
    if not event.payment_refs:
        raise MalformedEvent("a reversal must name its payment")
    _refs(event.payment_refs)
    _amount("reversed amount", event.reversed)
    _time(event.occurred_at)


def validate_event(event: NormalisedEvent) -> None:
    """Raise ``MalformedEvent`` unless every field of ``event`` is within the bounds above."""
    _id("event id", event.event_id)
    _id("event type", event.event_type)
    if isinstance(event, Payment):
        _payment(event)
    elif isinstance(event, Reversal):
        _reversal(event)
    elif isinstance(event, PaymentAlias):
        _id("transaction key", event.transaction_key)
        _refs(event.payment_refs)
    elif isinstance(event, CustomerProfile):
        _id("customer id", event.provider_customer_id)
        _email(event.email)
        _time(event.occurred_at)
    elif not isinstance(event, Ignored):  # pragma: no cover - the union is closed
        raise MalformedEvent(f"unknown event shape {type(event).__name__}")


def validate_referral(referral: Referral) -> None:
    """The same bounds for who-referred-whom, from the merchant's backend or the platform."""
    _text("customer_key", referral.customer_key)
    _text("partner_key", referral.partner_key)
    _email(referral.email)
    for provider, value in referral.provider_customer_ids:
        _id(f"{provider}_customer_id", value)


def validate_customer_key(customer_key: str) -> None:
    _text("customer_key", customer_key)
