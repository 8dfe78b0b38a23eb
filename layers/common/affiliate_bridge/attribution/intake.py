"""The webhook use case, shared by every provider: attribute, record, enqueue.

A provider module has already verified and normalised the event; from here Stripe and
Paddle take the same path. Nothing here calls the affiliate API: the webhook answers
within the provider's deadline and the forwarder does the slow part.

Order matters for "nothing accepted is ever lost": the message is sent first and the
ledger written after, so a failure at either step raises, the webhook answers 5xx, and
the provider retries; the retry is deduplicated by SQS or folded idempotently. On the
webhooks an attributed sale's entry rides in the message instead (``entry_by_forwarder``):
once SQS holds the message it holds the entry, and the forwarder writes it.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from affiliate_bridge.attribution.rules import attribute
from affiliate_bridge.domain.events import (
    CustomerProfile,
    Ignored,
    NormalisedEvent,
    Payment,
    PaymentAlias,
    Reversal,
    transaction_key,
)
from affiliate_bridge.domain.identity import email_hash
from affiliate_bridge.domain.messages import (
    REVERSAL_KIND,
    SALE_KIND,
    EventEntry,
    alias_keys,
    relink_message,
    reversal_message,
    sale_message,
)
from affiliate_bridge.domain.referrals import (
    CUSTOMER_KEY,
    Attribution,
    AttributionRule,
    Identifier,
    Referral,
    ReferralOutcome,
    late_rule,
    payment_identifiers,
    provider_customer_kind,
)

if TYPE_CHECKING:  # types only: a webhook's cold start does not load the ports
    from affiliate_bridge.ports import EventLedger, Parking, Queue, ReferralStore


class Outcome(enum.StrEnum):
    ENQUEUED = "enqueued"
    UNATTRIBUTED = "unattributed"
    SKIPPED_ZERO_AMOUNT = "skipped_zero_amount"
    LINKED = "linked"
    PROFILE_UPDATED = "profile_updated"
    IGNORED = "ignored"


NO_SALE_SEEN = "no sale seen for this payment yet: the reversal is kept and applied when its sale arrives"


def _utc(seconds: int) -> str:
    """A date a person reads in a webhook's reply and in explain, not unix seconds."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


def _payment_kind(event: NormalisedEvent) -> str | None:
    if isinstance(event, Payment):
        return SALE_KIND
    if isinstance(event, Reversal):
        return REVERSAL_KIND
    return None


@dataclass(frozen=True)
class IntakeResult:
    outcome: Outcome
    transaction_key: str | None = None
    message_id: str | None = None
    attribution: Attribution | None = None
    reason: str | None = None
    # The ledger entry went with the message: the forwarder writes it (``EventEntry``).
    entry_queued: bool = False


@dataclass(frozen=True)
class Intake:
    referrals: ReferralStore
    ledger: EventLedger
    queue: Queue
    parking: Parking | None = None  # None: unattributed payments are only recorded
    park_window_seconds: int = 7 * 86_400
    last_touch: bool = False
    # True on the webhooks: an attributed sale's ledger entry travels in its message and
    # the forwarder writes it, one round trip fewer before the provider hears 2xx.
    # Backfill and the reconciler write it themselves: they ask the ledger whether an
    # event is known, and must find the one they just fed.
    entry_by_forwarder: bool = False

    def accept(self, event: NormalisedEvent) -> IntakeResult:
        if isinstance(event, Ignored):
            result = IntakeResult(Outcome.IGNORED, reason=event.reason)
        elif isinstance(event, PaymentAlias):
            # The invoice may itself have converged on another key (see _converge).
            own_id = event.transaction_key.removeprefix(f"{event.provider}-")
            event = replace(event, transaction_key=self.resolve_payment_key(event.provider, (own_id,)))
            self._link(event.provider, event.payment_refs, event.transaction_key)
            # Reversals that came before this link were filed under the alias keys: ask
            # each alias's queue group (behind anything already there) to move them.
            for alias_key in alias_keys(event.provider, event.payment_refs, event.transaction_key):
                self.queue.send(relink_message(event.provider, event.event_id, alias_key, event.transaction_key))
            result = IntakeResult(Outcome.LINKED, transaction_key=event.transaction_key)
        elif isinstance(event, CustomerProfile):
            hashed = email_hash(event.email) if event.email else None
            self.referrals.put_customer_email(event.provider, event.provider_customer_id, hashed, event.occurred_at)
            result = IntakeResult(Outcome.PROFILE_UPDATED, reason=f"customer {event.provider_customer_id}")
        elif isinstance(event, Payment):
            result = self._payment(event)
        else:
            result = self._reversal(event)
        if result.entry_queued:
            return result
        self.ledger.record_event(
            event.provider,
            event.event_id,
            event.event_type,
            str(result.outcome),
            transaction_key=result.transaction_key,
            message_id=result.message_id,
            reason=result.reason,
            attribution_rule=str(result.attribution.rule) if result.attribution and result.attribution.rule else None,
            attribution_trail=list(result.attribution.tried) if result.attribution else None,
            partner_key=result.attribution.partner_key if result.attribution else None,
            customer_key=result.attribution.customer_key if result.attribution else None,
            payment_kind=_payment_kind(event),
        )
        return result

    def _link(self, provider: str, refs: tuple[str, ...], key: str) -> None:
        for ref in refs:
            if transaction_key(provider, ref) != key:
                self.referrals.put_payment_ref(provider, ref, key)

    def _payment(self, payment: Payment) -> IntakeResult:
        payment = self._converge(payment)
        self._link(payment.provider, payment.payment_refs, payment.transaction_key)
        if payment.commissionable.amount_minor <= 0:
            return IntakeResult(
                Outcome.SKIPPED_ZERO_AMOUNT, payment.transaction_key, reason="zero commissionable amount"
            )
        attribution = attribute(payment.provider, payment.customer, self.referrals)
        created_by_payment = False
        if not attribution.attributed and payment.customer.partner_hint:
            attribution = self._referral_from_hint(payment, attribution)
            created_by_payment = attribution.rule is AttributionRule.PARTNER_HINT
        if not attribution.attributed:
            return self._park(payment, attribution)
        self._learn_provider_id(payment, attribution)
        return self._send_sale(payment, attribution, create_customer=created_by_payment)

    def _send_sale(
        self, payment: Payment, attribution: Attribution, create_customer: bool = False, reason: str | None = None
    ) -> IntakeResult:
        entry = (
            EventEntry(
                outcome=str(Outcome.ENQUEUED),
                payment_kind=SALE_KIND,
                attribution_rule=str(attribution.rule) if attribution.rule else None,
                attribution_trail=attribution.tried,
                partner_key=attribution.partner_key,
                customer_key=attribution.customer_key,
                reason=reason,
            )
            if self.entry_by_forwarder
            else None
        )
        message_id = self.queue.send(sale_message(payment, attribution, create_customer, entry))
        return IntakeResult(
            Outcome.ENQUEUED,
            payment.transaction_key,
            message_id,
            attribution,
            reason=reason,
            entry_queued=entry is not None,
        )

    def _converge(self, payment: Payment) -> Payment:
        """Two events naming the same money under different keys end on one key: the
        first claims ``same_money_as`` (a conditional write, so two at once cannot both
        win); the other takes the claimed key and links its own id to it."""
        name = payment.same_money_as
        if name is None:
            return payment
        if self.referrals.claim_payment_ref(payment.provider, name, payment.transaction_key):
            return payment
        claimed = self.referrals.find_payment_key(payment.provider, name)
        if claimed is None or claimed == payment.transaction_key:
            return payment
        own_id = payment.transaction_key.removeprefix(f"{payment.provider}-")
        return replace(payment, transaction_key=claimed, payment_refs=(*payment.payment_refs, own_id))

    def _referral_from_hint(self, payment: Payment, attribution: Attribution) -> Attribution:
        """Checkout-only shops: the partner key on the payment creates the referral, so
        this sale and the customer's renewals are attributed (first touch still holds)."""
        refs = payment.customer
        assert refs.partner_hint
        customer_key = (
            refs.customer_key
            or refs.provider_customer_id
            or (f"email-{email_hash(refs.email)[:24]}" if refs.email else None)
            or payment.transaction_key
        )
        referral = Referral(
            customer_key=customer_key,
            partner_key=refs.partner_hint,
            email=refs.email,
            provider_customer_ids=((payment.provider, refs.provider_customer_id),) if refs.provider_customer_id else (),
            source=f"{payment.provider}:{payment.event_type}",
        )
        outcome, current = self.referrals.put_referral(referral, last_touch=self.last_touch)
        step = f"{AttributionRule.PARTNER_HINT}:{'created referral' if outcome is ReferralOutcome.CREATED else outcome}"
        rule = AttributionRule.PARTNER_HINT if outcome is ReferralOutcome.CREATED else AttributionRule.CUSTOMER_KEY
        return Attribution(current.customer_key, current.partner_key, rule, (*attribution.tried, step))

    def _learn_provider_id(self, payment: Payment, attribution: Attribution) -> None:
        """Matched by key or email and paid with a provider customer id: remember the id,
        so renewals still match after the customer changes their email."""
        provider_id = payment.customer.provider_customer_id
        if (
            provider_id
            and not attribution.provider_id_linked
            and attribution.customer_key
            and attribution.rule
            in (
                AttributionRule.CUSTOMER_KEY,
                AttributionRule.EMAIL,
            )
        ):
            self.referrals.put_alias(
                provider_customer_kind(payment.provider),
                provider_id,
                attribution.customer_key,
                partner_key=attribution.partner_key,
            )

    def _park(self, payment: Payment, attribution: Attribution) -> IntakeResult:
        if self.parking is None:
            return IntakeResult(
                Outcome.UNATTRIBUTED, payment.transaction_key, attribution=attribution, reason="no referral matched"
            )
        identifiers = payment_identifiers(payment.provider, payment.customer, attribution.email_hash)
        if not identifiers:
            return IntakeResult(
                Outcome.UNATTRIBUTED,
                payment.transaction_key,
                attribution=attribution,
                reason="no referral matched and nothing to match a later one",
            )
        # A referral stored meanwhile may look for parked payments before ours is written,
        # find none, and go. Parking with a check that nothing claims our identifiers yet
        # closes that gap in one call: a referral claiming one afterwards finds the sale.
        expires_at = self.parking.park_unless_claimed(payment, identifiers, self.park_window_seconds)
        if expires_at is not None:
            return self._parked(payment, attribution, expires_at)
        # Something claims one (a referral that just arrived, or an alias of a customer
        # whose referral was deleted): park anyway and look. Both sides write first and
        # read after (strongly consistent), so at least one of them sees the other. Should
        # both send the sale, the forwarder folds the same fact into one transaction.
        expires_at = self.parking.park(payment, identifiers, self.park_window_seconds)
        again = self._attribute_by(identifiers)
        if again.attributed:
            result = self._send_sale(payment, again, reason="the referral arrived while the payment was being parked")
            assert again.customer_key and again.rule
            self.parking.mark_released(payment.transaction_key, again.customer_key, str(again.rule), expires_at)
            self._learn_provider_id(payment, again)
            return result
        return self._parked(payment, attribution, expires_at)

    def _parked(self, payment: Payment, attribution: Attribution, expires_at: int) -> IntakeResult:
        return IntakeResult(
            Outcome.UNATTRIBUTED,
            payment.transaction_key,
            attribution=attribution,
            reason=f"no referral matched; parked for a late referral until {_utc(expires_at)}",
        )

    def _attribute_by(self, identifiers: list[Identifier]) -> Attribution:
        """Attribution by the identifiers a payment was parked under, in precedence order
        (what a late referral would match it by), without looking any of them up again."""
        customer_key_given = next((value for kind, value in identifiers if kind == CUSTOMER_KEY), None)
        others = [(kind, value) for kind, value in identifiers if kind != CUSTOMER_KEY]
        lookup = self.referrals.read_ahead(customer_key_given, others, None)
        for kind, value in identifiers:
            customer_key = value if kind == CUSTOMER_KEY else lookup.find_customer_key(kind, value)
            referral = lookup.find_referral(customer_key) if customer_key else None
            if referral:
                rule = late_rule(kind)
                return Attribution(referral.customer_key, referral.partner_key, rule, (f"{rule}:matched on recheck",))
        return Attribution(None, None, None)

    def _reversal(self, reversal: Reversal) -> IntakeResult:
        key = self.resolve_payment_key(reversal.provider, reversal.payment_refs)
        message_id = self.queue.send(reversal_message(reversal, key))
        # Kept and applied whatever the answer; the reason only tells the sender (and
        # explain) when nothing it could apply to has been seen: a refund that beats its
        # sale, or one naming an id no sale was linked to (a missing link event).
        reason = None if self.ledger.has_sale(key) else NO_SALE_SEEN
        return IntakeResult(Outcome.ENQUEUED, key, message_id, reason=reason)

    def resolve_payment_key(self, provider: str, refs: tuple[str, ...]) -> str:
        """The first ref a sale linked wins; otherwise the first ref is the key itself
        (an invoice id, or the payment intent of a one-time payment)."""
        for ref in refs:
            found = self.referrals.find_payment_key(provider, ref)
            if found:
                return found
        return transaction_key(provider, refs[0])
