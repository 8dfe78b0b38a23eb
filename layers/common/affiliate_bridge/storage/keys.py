"""Every key in the ReferralsTable, defined once.

One table, string ``pk`` / ``sk``. The stores, the operator tools (``explain``, the local
stack's snapshot) and the tests all build and recognise keys through this module, so a
format cannot change in one place and be missed in another.

===============================================  ==============================================
``CUSTOMER#<customer key>`` / ``REFERRAL``       partner, email hash, provider ids, platform time
``CUSTOMER#<customer key>`` / ``CONFLICT#<t>``   a first-touch claim refused, for explain
``CUSTOMER#<customer key>`` / ``STALE#<t>``      an older platform delivery ignored, for explain
``ALIAS#<kind>#<value>`` / ``ALIAS``             an email hash or provider customer id -> key
``PROFILE#<provider>#<customer id>`` / ``PROFILE``  the email hash a provider holds for its customer
``PAYREF#<provider>#<id>`` / ``PAYREF``          another id of a payment -> its transaction key
``EVENT#<provider>#<event id>`` / ``EVENT``      what was decided for one provider event
``PAYMENT#<transaction key>`` / ``STATE``        the forwarder's state of one payment
``PAYMENT#<transaction key>`` / ``ATTEMPT#<t>``  one call to the affiliate API and its answer
``PARKED#<kind>#<value>`` / ``PAYMENT#<key>``    a sale waiting for a late referral
``RELEASED#<transaction key>`` / ``RELEASED``    that parked sale has been sent
``RECONCILE`` / ``LAST``                         the last reconcile: when, drift found, fixed
===============================================  ==============================================

``<t>`` is unix time with microseconds, zero-padded, so sort keys sort by time.
"""

from __future__ import annotations

from typing import NamedTuple

TTL_ATTRIBUTE = "expires_at"  # the table's TimeToLiveSpecification
TRANSACTION_KEY_INDEX = "ByTransactionKey"  # GSI on the ledger events' transaction_key

CUSTOMER = "CUSTOMER#"
EVENT = "EVENT#"
PAYMENT = "PAYMENT#"
PARKED = "PARKED#"
REFERRAL_SK = "REFERRAL"
STATE_SK = "STATE"
EVENT_SK = "EVENT"
CONFLICT = "CONFLICT#"
STALE = "STALE#"
ATTEMPT = "ATTEMPT#"


class Key(NamedTuple):
    pk: str
    sk: str


def _at(when: float) -> str:
    return f"{when:017.6f}"


# -- customers ---------------------------------------------------------------------------
def customer(customer_key: str) -> str:
    return f"{CUSTOMER}{customer_key}"


def customer_key_of(pk: str) -> str:
    return pk.removeprefix(CUSTOMER)


def referral(customer_key: str) -> Key:
    return Key(customer(customer_key), REFERRAL_SK)


def conflict(customer_key: str, when: float) -> Key:
    return Key(customer(customer_key), f"{CONFLICT}{_at(when)}")


def stale(customer_key: str, when: float) -> Key:
    return Key(customer(customer_key), f"{STALE}{_at(when)}")


ALIAS_SK = "ALIAS"


def alias(kind: str, value: str) -> Key:
    return Key(f"ALIAS#{kind}#{value}", ALIAS_SK)


def profile(provider: str, customer_id: str) -> Key:
    return Key(f"PROFILE#{provider}#{customer_id}", "PROFILE")


# -- payments ----------------------------------------------------------------------------
def payment_ref(provider: str, ref: str) -> Key:
    return Key(f"PAYREF#{provider}#{ref}", "PAYREF")


def event(provider: str, event_id: str) -> Key:
    return Key(f"{EVENT}{provider}#{event_id}", EVENT_SK)


def event_id_of(pk: str) -> str:
    """The provider's event id in an event entry's ``pk``."""
    return pk.split("#", 2)[2]


def payment(transaction_key: str) -> str:
    return f"{PAYMENT}{transaction_key}"


def payment_state(transaction_key: str) -> Key:
    return Key(payment(transaction_key), STATE_SK)


def attempt(transaction_key: str, when: float) -> Key:
    return Key(payment(transaction_key), f"{ATTEMPT}{_at(when)}")


# -- late attribution --------------------------------------------------------------------
def parked_under(kind: str, value: str) -> str:
    return f"{PARKED}{kind}#{value}"


def parked(kind: str, value: str, transaction_key: str) -> Key:
    return Key(parked_under(kind, value), payment(transaction_key))


def released(transaction_key: str) -> Key:
    return Key(f"RELEASED#{transaction_key}", "RELEASED")


# -- reconcile -----------------------------------------------------------------------------
def last_reconcile() -> Key:
    return Key("RECONCILE", "LAST")
