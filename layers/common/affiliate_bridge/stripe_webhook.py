"""Wiring for the Stripe webhook function: settings and clients in, an endpoint out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from affiliate_bridge.domain import EventRules
from affiliate_bridge.function_url import HttpRequest
from affiliate_bridge.intake import Intake
from affiliate_bridge.ledger import Ledger
from affiliate_bridge.referrals_store import ReferralsStore
from affiliate_bridge.secrets import resolve_secret
from affiliate_bridge.settings import ConfigurationError, Settings
from affiliate_bridge.signing import split_secrets
from affiliate_bridge.stripe_events import PROVIDER, normalise_stripe_event
from affiliate_bridge.stripe_signature import verify_stripe_signature
from affiliate_bridge.transactions_queue import TransactionsQueue
from affiliate_bridge.webhook_endpoint import WebhookEndpoint


def event_rules(settings: Settings) -> EventRules:
    return EventRules(
        customer_key_field=settings.customer_key_field,
        partner_key_field=settings.partner_key_field,
        commission_excludes_tax=settings.commission_excludes_tax,
        stripe_payment_intent_sales=settings.stripe_payment_intent_sales,
    )


def build_intake(settings: Settings, dynamodb: Any, sqs: Any) -> Intake:
    settings.require("table_name", "queue_url")
    return Intake(
        referrals=ReferralsStore(dynamodb, settings.table_name),
        ledger=Ledger(dynamodb, settings.table_name, settings.ledger_ttl_days),
        queue=TransactionsQueue(sqs, settings.queue_url),
    )


def build_stripe_endpoint(settings: Settings, intake: Intake) -> WebhookEndpoint:
    rules = event_rules(settings)

    def verify(request: HttpRequest) -> None:
        secrets = split_secrets(resolve_secret("STRIPE_WEBHOOK_SECRET"))
        if not secrets:
            raise ConfigurationError("STRIPE_WEBHOOK_SECRET holds no secret")
        verify_stripe_signature(
            request.body, request.header("stripe-signature"), secrets, settings.stripe_tolerance_seconds
        )

    def normalise(payload: Mapping[str, Any]) -> Any:
        return normalise_stripe_event(payload, rules)

    def event_id_of(payload: Mapping[str, Any]) -> str | None:
        value = payload.get("id")
        return value if isinstance(value, str) and value else None

    return WebhookEndpoint(PROVIDER, verify, normalise, intake, settings.max_body_bytes, event_id_of)
