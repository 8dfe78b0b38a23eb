"""What the use cases need from the world outside, each interface defined once.

The use cases (``attribution``, ``forwarding``) are written against these protocols;
the adapters in ``storage`` and ``affiliate`` satisfy them structurally, and the test
fakes are checked against them by mypy, so a fake cannot drift from the real store
without the type check failing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from affiliate_bridge.domain.events import Payment
from affiliate_bridge.domain.messages import TransactionMessage
from affiliate_bridge.domain.money import Money
from affiliate_bridge.domain.referrals import Identifier, ParkedPayment, Referral, ReferralOutcome

if TYPE_CHECKING:  # only the forwarder loads the payment state; the webhooks need not
    from affiliate_bridge.forwarding.state import PaymentState

# -- shared by every use case -----------------------------------------------------------


class Queue(Protocol):
    """The FIFO queue to the forwarder; returns the message id once it is durably queued."""

    def send(self, message: TransactionMessage) -> str: ...


class EventLedger(Protocol):
    """The explainable record of what was decided for each provider event."""

    def record_event(
        self,
        provider: str,
        event_id: str,
        event_type: str,
        outcome: str,
        count_delivery: bool = True,
        only_for_message: str | None = None,
        **detail: object,
    ) -> None: ...

    def record_rejection(self, provider: str, event_id: str, event_type: str, reason: str) -> None: ...

    def has_sale(self, transaction_key: str) -> bool:
        """Whether a sale event naming this payment was accepted (in any outcome)."""
        ...


# -- attribution -------------------------------------------------------------------------


class ReferralLookup(Protocol):
    """Reads attribution needs: a referral by customer key, a customer by identifier."""

    def find_referral(self, customer_key: str) -> Referral | None: ...

    def find_customer_key(self, kind: str, value: str) -> str | None: ...

    def find_email_hash(self, provider: str, customer_id: str) -> str | None: ...

    def read_ahead(
        self, customer_key: str | None, identifiers: Sequence[Identifier], profile: tuple[str, str] | None
    ) -> ReferralLookup:
        """The same lookups answered from as few round trips as the store can manage:
        attribution knows every candidate up front, and on the webhook's path each
        sequential read is latency the provider waits on. ``profile``: the provider
        customer whose stored email to use when the payment carries none."""
        ...


class PaymentLinks(Protocol):
    """Other ids of the same money (a payment intent, a charge) -> the payment's key."""

    def find_payment_key(self, provider: str, ref: str) -> str | None: ...


class ReferralStore(ReferralLookup, PaymentLinks, Protocol):
    """Everything the webhook and referral use cases write about customers and payments."""

    def put_referral(
        self, referral: Referral, last_touch: bool = False, platform_at_ms: int | None = None
    ) -> tuple[ReferralOutcome, Referral]: ...

    def mark_deleted(self, customer_key: str, platform_at_ms: int, source: str) -> ReferralOutcome: ...

    def put_alias(
        self, kind: str, value: str, customer_key: str, overwrite: bool = False, partner_key: str | None = None
    ) -> bool:
        """``partner_key``: the partner the caller saw, copied onto the alias while the
        referral still has it, so a later payment is attributed from the alias alone."""
        ...

    def put_payment_ref(self, provider: str, ref: str, transaction_key: str) -> None: ...

    def claim_payment_ref(self, provider: str, ref: str, transaction_key: str) -> bool: ...

    def put_customer_email(
        self, provider: str, customer_id: str, hashed_email: str | None, updated_at: int
    ) -> None: ...


class Parking(Protocol):
    """Sales that matched no referral yet, kept for a late one."""

    def park(self, payment: Payment, identifiers: list[Identifier], window_seconds: int) -> int: ...

    def park_unless_claimed(self, payment: Payment, identifiers: list[Identifier], window_seconds: int) -> int | None:
        """Park atomically with a check that no referral claims an identifier yet; None
        (nothing parked) when one does."""
        ...

    def find(self, kind: str, value: str) -> list[ParkedPayment]: ...

    def is_released(self, transaction_key: str) -> bool: ...

    def mark_released(self, transaction_key: str, customer_key: str, rule: str, expires_at: int) -> None: ...


# -- forwarding --------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCustomer:
    """Create the customer with the transaction (Partnero ``options.create_customer``)."""

    partner_key: str
    email: str | None = None


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    duplicate: bool = False  # the API already had this key: an earlier attempt landed


class AffiliateApi(Protocol):
    """The affiliate platform, in the terms the forwarder needs. Raises the
    ``AffiliateApiError`` family (``errors``) for anything but success."""

    def create_transaction(
        self,
        key: str,
        customer_key: str,
        amount: Money,
        created_at: int | None = None,
        new_customer: NewCustomer | None = None,
    ) -> ApiAnswer: ...

    def create_customer(self, customer_key: str, partner_key: str, email: str | None) -> ApiAnswer: ...

    def delete_transaction(self, key: str) -> ApiAnswer: ...

    def find_transaction(self, key: str, customer_key: str, currency: str) -> int | None: ...

    def customer_partner(self, customer_key: str) -> str | None: ...

    def rename_customer(self, customer_key: str, new_key: str) -> ApiAnswer: ...


class StateStore(Protocol):
    """Each payment's state; ``save`` raises ``StaleState`` when another writer won."""

    def load(self, transaction_key: str) -> PaymentState: ...

    def save(self, state: PaymentState) -> PaymentState: ...


class AttemptLog(Protocol):
    """One ledger row per call to the affiliate API, with its answer."""

    def record_attempt(self, transaction_key: str, attempt: Mapping[str, object]) -> None: ...


# -- recovery ------------------------------------------------------------------------------


class KnownEvents(Protocol):
    """What backfill asks the ledger before feeding an event again."""

    def event_outcome(self, provider: str, event_id: str) -> str | None:
        """The outcome recorded for this event, None when it never arrived."""
        ...

    def has_sale(self, transaction_key: str) -> bool: ...


class PaymentStateListing(Protocol):
    """Every payment state, for reconcile (a scan: an operator's question, not a hot path)."""

    def all_states(self) -> Iterator[PaymentState]: ...


@dataclass(frozen=True)
class HeldTransaction:
    """One transaction as the affiliate API lists it (amount in major units, as text)."""

    key: str
    amount: str
    currency: str | None = None
    customer_key: str | None = None
    deleted: bool = False
    created_at: int | None = None


class AffiliateListing(Protocol):
    """The affiliate API's own list of transactions (its documented listing, paginated)."""

    def list_transactions(self) -> Iterator[HeldTransaction]: ...
