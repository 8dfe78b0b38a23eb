"""The one place that builds objects: settings and AWS clients in, a handler's object out.

Each function's ``app.py`` calls one builder here at cold start. Nothing else in the
package constructs adapters, so what a function can touch is readable in one file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from affiliate_bridge.attribution.intake import Intake
from affiliate_bridge.domain.events import EventRules
from affiliate_bridge.edge.secrets import resolve_secret, resolve_secrets
from affiliate_bridge.edge.settings import Settings
from affiliate_bridge.edge.webhook_endpoint import WebhookEndpoint
from affiliate_bridge.providers.base import WebhookProvider
from affiliate_bridge.storage.ledger import Ledger
from affiliate_bridge.storage.parked_payments import ParkedPayments
from affiliate_bridge.storage.referrals import ReferralsStore
from affiliate_bridge.storage.transactions_queue import TransactionsQueue

if TYPE_CHECKING:  # built only by their own functions; see the builders below
    from affiliate_bridge.edge.forwarder_batch import ForwarderBatch
    from affiliate_bridge.edge.reconciler_job import ReconcilerJob
    from affiliate_bridge.edge.referrals_endpoint import ReferralsEndpoint
    from affiliate_bridge.recovery.reconcile import Reconciler
    from affiliate_bridge.recovery.replay import Replayer


def event_rules(settings: Settings) -> EventRules:
    return EventRules(
        customer_key_field=settings.customer_key_field,
        partner_key_field=settings.partner_key_field,
        commission_excludes_tax=settings.commission_excludes_tax,
    )


Secrets = Callable[[], tuple[str, ...]]


# Each provider's modules are imported by its own builder: a webhook function loads only
# its own provider's reader and signature check at cold start.
def _stripe(settings: Settings, secrets: Secrets) -> WebhookProvider:
    from affiliate_bridge.providers.stripe.events import StripeOptions
    from affiliate_bridge.providers.stripe.provider import StripeProvider

    options = StripeOptions(
        payment_intent_sales=settings.stripe_payment_intent_sales,
        client_reference_is_partner_key=settings.stripe_client_reference_is_partner_key,
    )
    return StripeProvider(secrets, settings.stripe_tolerance_seconds, event_rules(settings), options)


def _paddle(settings: Settings, secrets: Secrets) -> WebhookProvider:
    from affiliate_bridge.providers.paddle.provider import PaddleProvider

    return PaddleProvider(secrets, settings.paddle_tolerance_seconds, event_rules(settings))


# The payment providers, by the name their function URL and ledger entries carry.
PAYMENT_PROVIDERS: dict[str, Callable[[Settings, Secrets], WebhookProvider]] = {
    "stripe": _stripe,
    "paddle": _paddle,
}


def build_provider(name: str, settings: Settings) -> WebhookProvider:
    """Each provider's secret is ``<NAME>_WEBHOOK_SECRET``, resolved per request."""

    def secrets() -> tuple[str, ...]:
        return resolve_secrets(f"{name.upper()}_WEBHOOK_SECRET")

    return PAYMENT_PROVIDERS[name](settings, secrets)


def build_intake(settings: Settings, dynamodb: Any, sqs: Any, entry_by_forwarder: bool = False) -> Intake:
    """``entry_by_forwarder``: the webhooks' choice (``Intake.entry_by_forwarder``)."""
    settings.require("table_name", "queue_url")
    return Intake(
        referrals=ReferralsStore(dynamodb, settings.table_name),
        ledger=Ledger(dynamodb, settings.table_name, settings.ledger_ttl_days),
        queue=TransactionsQueue(sqs, settings.queue_url),
        parking=ParkedPayments(dynamodb, settings.table_name) if settings.late_attribution_days > 0 else None,
        park_window_seconds=settings.late_attribution_days * 86_400,
        last_touch=settings.attribution_last_touch,
        entry_by_forwarder=entry_by_forwarder,
    )


def build_webhook_endpoint(provider: str, settings: Settings, dynamodb: Any, sqs: Any) -> WebhookEndpoint:
    """StripeWebhookFunction and PaddleWebhookFunction: one endpoint type, its provider inside."""
    return WebhookEndpoint(
        build_provider(provider, settings),
        build_intake(settings, dynamodb, sqs, entry_by_forwarder=True),
        settings.max_body_bytes,
    )


def build_forwarder_batch(settings: Settings, dynamodb: Any, sqs: Any) -> ForwarderBatch:
    # Imported here: requests and Powertools' batch utilities cost the webhook functions
    # about 150 ms of cold start they would never use (make bench).
    from affiliate_bridge.affiliate.partnero import PartneroClient
    from affiliate_bridge.edge.forwarder_batch import ForwarderBatch
    from affiliate_bridge.forwarding.forwarder import Forwarder
    from affiliate_bridge.storage.payment_states import PaymentStateStore

    settings.require("table_name", "queue_url", "dead_letter_queue_url")
    client = PartneroClient(
        settings.partnero_api_url, lambda: resolve_secret("PARTNERO_API_KEY"), settings.partnero_timeout_seconds
    )
    ledger = Ledger(dynamodb, settings.table_name, settings.ledger_ttl_days)
    forwarder = Forwarder(
        states=PaymentStateStore(dynamodb, settings.table_name),
        attempts=ledger,
        events=ledger,
        api=client,
        links=ReferralsStore(dynamodb, settings.table_name),
        queue=TransactionsQueue(sqs, settings.queue_url),
    )
    return ForwarderBatch(
        forwarder,
        sqs,
        settings.queue_url,
        settings.dead_letter_queue_url,
        retry_base_seconds=settings.retry_base_seconds,
        retry_max_seconds=settings.retry_max_seconds,
        deadline_margin_seconds=settings.partnero_timeout_seconds + 5,
    )


def build_referrals_endpoint(settings: Settings, dynamodb: Any, sqs: Any) -> ReferralsEndpoint:
    from affiliate_bridge.attribution.late import LateAttribution
    from affiliate_bridge.attribution.referrals import ReferralIntake
    from affiliate_bridge.edge.referrals_endpoint import ReferralsEndpoint

    settings.require("table_name", "queue_url")
    queue = TransactionsQueue(sqs, settings.queue_url)
    ledger = Ledger(dynamodb, settings.table_name, settings.ledger_ttl_days)
    referrals = ReferralIntake(
        store=ReferralsStore(dynamodb, settings.table_name),
        late=LateAttribution(ParkedPayments(dynamodb, settings.table_name), queue, ledger),
        queue=queue,
        last_touch=settings.attribution_last_touch,
        mirror_customers=settings.create_customer_on_referral,
    )
    return ReferralsEndpoint(
        referrals=referrals,
        tokens=lambda: resolve_secrets("REFERRALS_API_TOKEN"),
        platform_secrets=lambda: resolve_secrets("PARTNERO_WEBHOOK_SECRET"),
        providers=tuple(PAYMENT_PROVIDERS),
    )


def build_replayer(provider: str, settings: Settings, dynamodb: Any, sqs: Any) -> Replayer:
    """backfill and the reconciler: events fetched from a provider's API take the webhook's
    own reader and intake (the provider's signing secret is never asked for)."""
    from affiliate_bridge.recovery.replay import Replayer

    intake = build_intake(settings, dynamodb, sqs)
    return Replayer(
        build_provider(provider, settings), intake, Ledger(dynamodb, settings.table_name, settings.ledger_ttl_days)
    )


def build_reconciler(settings: Settings, dynamodb: Any, sqs: Any, api_key: Callable[[], str]) -> Reconciler:
    from affiliate_bridge.affiliate.partnero import PartneroClient
    from affiliate_bridge.recovery.reconcile import Reconciler
    from affiliate_bridge.storage.payment_states import PaymentStateStore

    settings.require("table_name", "queue_url")
    return Reconciler(
        states=PaymentStateStore(dynamodb, settings.table_name),
        api=PartneroClient(settings.partnero_api_url, api_key, max(settings.partnero_timeout_seconds, 30.0)),
        queue=TransactionsQueue(sqs, settings.queue_url),
        providers=tuple(PAYMENT_PROVIDERS),
    )


def build_reconciler_job(settings: Settings, dynamodb: Any, sqs: Any) -> ReconcilerJob:
    """ReconcilerFunction: Stripe's undelivered events, Paddle's failed notifications, drift."""
    from affiliate_bridge.edge.reconciler_job import HealSettings, ReconcilerJob
    from affiliate_bridge.storage.reconcile_log import ReconcileLog

    heal = HealSettings.from_env()
    log = ReconcileLog(dynamodb, settings.table_name)

    return ReconcilerJob(
        settings=heal,
        replayers={name: build_replayer(name, settings, dynamodb, sqs) for name in PAYMENT_PROVIDERS},
        reconciler=build_reconciler(settings, dynamodb, sqs, lambda: resolve_secret("PARTNERO_API_KEY")),
        record_run=lambda drift, compared, fixed: log.record(drift, compared, fixed, "scheduled"),
    )
