"""In-memory stand-ins for the storage and queue interfaces, for logic tests without AWS."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from affiliate_bridge import ports
from affiliate_bridge.domain.events import Payment
from affiliate_bridge.domain.identity import email_hash
from affiliate_bridge.domain.messages import TransactionMessage, alias_keys
from affiliate_bridge.domain.money import Money
from affiliate_bridge.domain.referrals import (
    CUSTOMER_KEY,
    EMAIL,
    Identifier,
    ParkedPayment,
    Referral,
    ReferralOutcome,
    provider_customer_kind,
)
from affiliate_bridge.errors import UnknownCustomer
from affiliate_bridge.forwarding.state import PaymentState
from affiliate_bridge.ports import ApiAnswer, HeldTransaction, NewCustomer


@dataclass
class MemoryReferrals:
    """Behaves like ``storage.referrals.ReferralsStore`` (the contract test runs both):
    first touch, last touch, platform ordering, deletions and every alias it writes."""

    referrals: dict[str, Referral] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    platform_at: dict[str, int] = field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)
    payment_refs: dict[tuple[str, str], str] = field(default_factory=dict)
    profiles: dict[tuple[str, str], tuple[str | None, int]] = field(default_factory=dict)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    stale: list[tuple[str, int]] = field(default_factory=list)

    def find_referral(self, customer_key: str) -> Referral | None:
        return None if customer_key in self.deleted else self.referrals.get(customer_key)

    def find_customer_key(self, kind: str, value: str) -> str | None:
        return self.aliases.get((kind, value))

    def read_ahead(self, customer_key: str | None, identifiers: Any, profile: Any) -> MemoryReferrals:
        return self  # memory answers every read at once already

    def _newer_applied(self, customer_key: str, at_ms: int) -> bool:
        applied = self.platform_at.get(customer_key)
        if applied is None:
            return False
        return applied >= at_ms if customer_key in self.deleted else applied > at_ms

    def put_referral(
        self, referral: Referral, last_touch: bool = False, platform_at_ms: int | None = None
    ) -> tuple[ReferralOutcome, Referral]:
        key = referral.customer_key
        exists = key in self.referrals or key in self.platform_at
        if platform_at_ms is not None and exists and self._newer_applied(key, platform_at_ms):
            self.stale.append((key, platform_at_ms))
            return ReferralOutcome.STALE, self.find_referral(key) or referral
        existing = self.find_referral(key)
        moves = existing is not None and existing.partner_key != referral.partner_key and last_touch
        applied = self.platform_at.get(key)
        if moves and platform_at_ms is not None and applied is not None and applied >= platform_at_ms:
            # The store's replacing write is conditioned on a strictly newer time.
            self.stale.append((key, platform_at_ms))
            assert existing is not None
            return ReferralOutcome.STALE, existing
        if existing is None or moves:
            # The whole item is written: its platform time is this delivery's, or none.
            outcome = ReferralOutcome.CREATED if existing is None else ReferralOutcome.UPDATED
            current = referral
            self.referrals[key] = referral
            self.deleted.discard(key)
            if platform_at_ms is None:
                self.platform_at.pop(key, None)
            else:
                self.platform_at[key] = platform_at_ms
        else:
            if platform_at_ms is not None:
                # Only moves forward, and only on an item that exists.
                self.platform_at[key] = max(self.platform_at.get(key, platform_at_ms), platform_at_ms)
            if existing.partner_key != referral.partner_key:
                self.conflicts.append((key, referral.partner_key))
                return ReferralOutcome.CONFLICT, existing
            outcome, current = ReferralOutcome.UNCHANGED, existing
        aliases = [(provider_customer_kind(provider), value) for provider, value in referral.provider_customer_ids]
        if referral.email:
            aliases.insert(0, (EMAIL, email_hash(referral.email)))
        for kind, value in aliases:
            self.put_alias(kind, value, key, overwrite=last_touch)
        return outcome, current

    def mark_deleted(self, customer_key: str, platform_at_ms: int, source: str) -> ReferralOutcome:
        applied = self.platform_at.get(customer_key)
        if applied is not None and applied > platform_at_ms:
            self.stale.append((customer_key, platform_at_ms))
            return ReferralOutcome.STALE
        known = customer_key in self.referrals
        self.deleted.add(customer_key)
        self.platform_at[customer_key] = platform_at_ms
        return ReferralOutcome.DELETED if known else ReferralOutcome.UNKNOWN_CUSTOMER

    def put_alias(
        self, kind: str, value: str, customer_key: str, overwrite: bool = False, partner_key: str | None = None
    ) -> bool:
        current = self.aliases.get((kind, value))
        if current and current != customer_key and not overwrite:
            return False
        self.aliases[(kind, value)] = customer_key
        return True

    def find_email_hash(self, provider: str, customer_id: str) -> str | None:
        profile = self.profiles.get((provider, customer_id))
        return profile[0] if profile else None

    def put_customer_email(self, provider: str, customer_id: str, hashed_email: str | None, updated_at: int) -> None:
        current = self.profiles.get((provider, customer_id))
        if current is None or current[1] <= updated_at:
            self.profiles[(provider, customer_id)] = (hashed_email, updated_at)

    def put_payment_ref(self, provider: str, ref: str, transaction_key: str) -> None:
        self.payment_refs[(provider, ref)] = transaction_key

    def claim_payment_ref(self, provider: str, ref: str, transaction_key: str) -> bool:
        current = self.payment_refs.setdefault((provider, ref), transaction_key)
        return current == transaction_key

    def find_payment_key(self, provider: str, ref: str) -> str | None:
        return self.payment_refs.get((provider, ref))


@dataclass
class MemoryParking:
    """Behaves like ``storage.parked_payments.ParkedPayments``: filed once per identifier,
    parked again the alias keys accumulate, released once. ``referrals`` is the store
    whose claims ``park_unless_claimed`` checks."""

    referrals: MemoryReferrals | None = None
    items: dict[tuple[str, str], dict[str, ParkedPayment]] = field(default_factory=dict)
    released: set[str] = field(default_factory=set)

    def park_unless_claimed(self, payment: Payment, identifiers: list[Identifier], window_seconds: int) -> int | None:
        """DynamoDB files and checks in one instant. Here the sale is filed first and the
        claims read after: a referral claiming after that read looks for parked payments
        later still, so it finds this one, as it would after the transaction. When a claim
        is found the real store has written nothing and its caller parks anyway, so the
        sale filed here early changes nothing the caller does next."""
        assert self.referrals is not None, "MemoryParking(referrals=...) checks claims against that store"
        expires_at = self.park(payment, identifiers, window_seconds)
        return None if any(self._claimed(i) for i in identifiers) else expires_at

    def _claimed(self, identifier: Identifier) -> bool:
        assert self.referrals is not None
        kind, value = identifier
        if kind == CUSTOMER_KEY:
            return self.referrals.find_referral(value) is not None
        return self.referrals.find_customer_key(kind, value) is not None

    def park(self, payment: Payment, identifiers: list[Identifier], window_seconds: int) -> int:
        parked = ParkedPayment(
            payment.transaction_key,
            payment.provider,
            payment.event_id,
            payment.event_type,
            payment.occurred_at,
            payment.paid.amount_minor,
            payment.commissionable.amount_minor,
            payment.paid.currency,
            expires_at=2_000_000_000,
            alias_keys=alias_keys(payment.provider, payment.payment_refs, payment.transaction_key),
        )
        for identifier in identifiers:
            self._file(identifier, parked)
        return parked.expires_at

    def _file(self, identifier: Identifier, parked: ParkedPayment) -> None:
        filed = self.items.setdefault(identifier, {})
        before = filed.get(parked.transaction_key)
        merged = tuple(dict.fromkeys((*(before.alias_keys if before else ()), *parked.alias_keys)))
        filed[parked.transaction_key] = replace(parked, alias_keys=merged)

    def find(self, kind: str, value: str) -> list[ParkedPayment]:
        return list(self.items.get((kind, value), {}).values())

    def is_released(self, transaction_key: str) -> bool:
        return transaction_key in self.released

    def mark_released(self, transaction_key: str, customer_key: str, rule: str, expires_at: int) -> None:
        self.released.add(transaction_key)


@dataclass
class MemoryLedger:
    events: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    attempts: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def record_event(
        self,
        provider: str,
        event_id: str,
        event_type: str,
        outcome: str,
        count_delivery: bool = True,
        only_for_message: str | None = None,
        **detail: object,
    ) -> None:
        current = self.events.get((provider, event_id), {})
        if only_for_message is not None and current.get("message_id") not in (None, only_for_message):
            return
        self.events[(provider, event_id)] = {"event_type": event_type, "outcome": outcome, **detail}

    def record_rejection(self, provider: str, event_id: str, event_type: str, reason: str) -> None:
        current = self.events.get((provider, event_id))
        if current is None or current["outcome"] == "rejected":
            self.events[(provider, event_id)] = {"event_type": event_type, "outcome": "rejected", "reason": reason}

    def event_outcome(self, provider: str, event_id: str) -> str | None:
        event = self.events.get((provider, event_id))
        return str(event["outcome"]) if event else None

    def has_sale(self, transaction_key: str) -> bool:
        return any(
            e.get("transaction_key") == transaction_key and e.get("payment_kind") == "sale"
            for e in self.events.values()
        )

    def record_attempt(self, transaction_key: str, attempt: Mapping[str, object]) -> None:
        self.attempts.append((transaction_key, dict(attempt)))


@dataclass
class MemoryQueue:
    sent: list[TransactionMessage] = field(default_factory=list)
    fail: bool = False

    def send(self, message: TransactionMessage) -> str:
        if self.fail:
            raise RuntimeError("SQS unavailable")
        self.sent.append(message)
        return f"msg-{len(self.sent)}"


@dataclass
class MemoryStates:
    states: dict[str, PaymentState] = field(default_factory=dict)

    def load(self, transaction_key: str) -> PaymentState:
        return self.states.get(transaction_key, PaymentState(transaction_key=transaction_key))

    def save(self, state: PaymentState) -> PaymentState:
        saved = replace(state, version=state.version + 1)
        self.states[state.transaction_key] = saved
        return saved

    def all_states(self) -> Iterator[PaymentState]:
        yield from list(self.states.values())


@dataclass
class MemoryAffiliateApi:
    """Behaves like the affiliate API for the calls the forwarder makes."""

    customers: dict[str, str] = field(default_factory=dict)  # key -> partner
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def create_transaction(
        self,
        key: str,
        customer_key: str,
        amount: Money,
        created_at: int | None = None,
        new_customer: NewCustomer | None = None,
    ) -> ApiAnswer:
        self.calls.append(f"POST {key}")
        if new_customer is not None:
            self.customers.setdefault(customer_key, new_customer.partner_key)
        if customer_key not in self.customers:
            raise UnknownCustomer("customer not found", 422)
        if key in self.transactions:
            return ApiAnswer(422, duplicate=True)
        self.transactions[key] = {"customer": customer_key, "amount": amount, "deleted": False}
        return ApiAnswer(201)

    def create_customer(self, customer_key: str, partner_key: str, email: str | None) -> ApiAnswer:
        self.calls.append(f"CUSTOMER {customer_key}")
        self.customers.setdefault(customer_key, partner_key)
        return ApiAnswer(201)

    def delete_transaction(self, key: str) -> ApiAnswer:
        self.calls.append(f"DELETE {key}")
        if key in self.transactions:
            self.transactions[key]["deleted"] = True
        return ApiAnswer(200)

    def find_transaction(self, key: str, customer_key: str, currency: str) -> int | None:
        self.calls.append(f"GET {key}")
        held = self.transactions.get(key)
        if held is None or held["deleted"]:
            return None
        amount: Money = held["amount"]
        return amount.amount_minor

    def customer_partner(self, customer_key: str) -> str | None:
        self.calls.append(f"GET CUSTOMER {customer_key}")
        return self.customers.get(customer_key)

    def rename_customer(self, customer_key: str, new_key: str) -> ApiAnswer:
        self.calls.append(f"RENAME {customer_key}")
        if customer_key not in self.customers:
            return ApiAnswer(404)
        self.customers[new_key] = self.customers.pop(customer_key)
        return ApiAnswer(200)

    def active(self) -> dict[str, Money]:
        return {k: v["amount"] for k, v in self.transactions.items() if not v["deleted"]}

    def list_transactions(self) -> Iterator[HeldTransaction]:
        for key, held in self.transactions.items():
            amount: Money = held["amount"]
            yield HeldTransaction(
                key, str(amount.to_major()), amount.currency, held["customer"], deleted=bool(held["deleted"])
            )


# mypy proves each fake satisfies the port it stands in for (``make lint`` covers tests/).
_referrals: ports.ReferralStore = MemoryReferrals()
_ledger: ports.EventLedger = MemoryLedger()
_attempts: ports.AttemptLog = MemoryLedger()
_queue: ports.Queue = MemoryQueue()
_parking: ports.Parking = MemoryParking(MemoryReferrals())
_states: ports.StateStore = MemoryStates()
_api: ports.AffiliateApi = MemoryAffiliateApi()
_known: ports.KnownEvents = MemoryLedger()
_listing: ports.AffiliateListing = MemoryAffiliateApi()
_state_listing: ports.PaymentStateListing = MemoryStates()
