"""Wiring for the provider webhook functions: settings and clients in, an endpoint out.

Stripe and Paddle differ only in the signature check and the normaliser; intake (and so
attribution, ledger and queue) is the same object type for both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from affiliate_bridge.affiliate.partnero import PartneroClient
from affiliate_bridge.attribution.intake import Intake
from affiliate_bridge.attribution.late import LateAttribution
from affiliate_bridge.domain.events import EventRules, NormalisedEvent
from affiliate_bridge.edge.forwarder_batch import ForwarderBatch
from affiliate_bridge.edge.function_url import HttpRequest
from affiliate_bridge.edge.referrals_endpoint import ReferralsEndpoint
from affiliate_bridge.edge.secrets import resolve_secret, resolve_secrets
from affiliate_bridge.edge.settings import Settings
from affiliate_bridge.edge.webhook_endpoint import WebhookEndpoint
from affiliate_bridge.forwarding.forwarder import Forwarder
from affiliate_bridge.providers.paddle.events import normalise_paddle_event
from affiliate_bridge.providers.paddle.signature import verify_paddle_signature
from affiliate_bridge.providers.stripe.events import normalise_stripe_event
from affiliate_bridge.providers.stripe.signature import verify_stripe_signature
from affiliate_bridge.storage.ledger import Ledger
from affiliate_bridge.storage.parked_payments import ParkedPayments
from affiliate_bridge.storage.payment_states import PaymentStateStore
from affiliate_bridge.storage.referrals import ReferralsStore
from affiliate_bridge.storage.transactions_queue import TransactionsQueue


def event_rules(settings: Settings) -> EventRules:
    return EventRules(
        customer_key_field=settings.customer_key_field,
        partner_key_field=settings.partner_key_field,
        commission_excludes_tax=settings.commission_excludes_tax,
        stripe_payment_intent_sales=settings.stripe_payment_intent_sales,
        stripe_client_reference_is_partner_key=settings.stripe_client_reference_is_partner_key,
    )


def build_intake(settings: Settings, dynamodb: Any, sqs: Any) -> Intake:
    settings.require("table_name", "queue_url")
    return Intake(
        referrals=ReferralsStore(dynamodb, settings.table_name),
        ledger=Ledger(dynamodb, settings.table_name, settings.ledger_ttl_days),
        queue=TransactionsQueue(sqs, settings.queue_url),
        parking=ParkedPayments(dynamodb, settings.table_name) if settings.late_attribution_days > 0 else None,
        park_window_seconds=settings.late_attribution_days * 86_400,
        last_touch=settings.attribution_last_touch,
    )


def _string_field(name: str) -> Callable[[Mapping[str, Any]], str | None]:
    def read(payload: Mapping[str, Any]) -> str | None:
        value = payload.get(name)
        return value if isinstance(value, str) and value else None

    return read


def build_stripe_endpoint(settings: Settings, intake: Intake) -> WebhookEndpoint:
    rules = event_rules(settings)

    def verify(request: HttpRequest) -> None:
        verify_stripe_signature(
            request.body,
            request.header("stripe-signature"),
            resolve_secrets("STRIPE_WEBHOOK_SECRET"),
            settings.stripe_tolerance_seconds,
        )

    def normalise(payload: Mapping[str, Any]) -> NormalisedEvent:
        return normalise_stripe_event(payload, rules)

    return WebhookEndpoint("stripe", verify, normalise, intake, settings.max_body_bytes, _string_field("id"))


def build_paddle_endpoint(settings: Settings, intake: Intake) -> WebhookEndpoint:
    rules = event_rules(settings)

    def verify(request: HttpRequest) -> None:
        verify_paddle_signature(
            request.body,
            request.header("paddle-signature"),
            resolve_secrets("PADDLE_WEBHOOK_SECRET"),
            settings.paddle_tolerance_seconds,
        )

    def normalise(payload: Mapping[str, Any]) -> NormalisedEvent:
        return normalise_paddle_event(payload, rules)

    return WebhookEndpoint("paddle", verify, normalise, intake, settings.max_body_bytes, _string_field("event_id"))


def build_forwarder_batch(settings: Settings, dynamodb: Any, sqs: Any) -> ForwarderBatch:
    settings.require("table_name", "queue_url", "dead_letter_queue_url")
    client = PartneroClient(
        settings.partnero_api_url, lambda: resolve_secret("PARTNERO_API_KEY"), settings.partnero_timeout_seconds
    )
    forwarder = Forwarder(
        states=PaymentStateStore(dynamodb, settings.table_name),
        attempts=Ledger(dynamodb, settings.table_name, settings.ledger_ttl_days),
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
    settings.require("table_name", "queue_url")
    queue = TransactionsQueue(sqs, settings.queue_url)
    ledger = Ledger(dynamodb, settings.table_name, settings.ledger_ttl_days)
    return ReferralsEndpoint(
        store=ReferralsStore(dynamodb, settings.table_name),
        late=LateAttribution(ParkedPayments(dynamodb, settings.table_name), queue, ledger),
        queue=queue,
        tokens=lambda: resolve_secrets("REFERRALS_API_TOKEN"),
        platform_secrets=lambda: resolve_secrets("PARTNERO_WEBHOOK_SECRET"),
        last_touch=settings.attribution_last_touch,
        mirror_customers=settings.create_customer_on_referral,
    )
