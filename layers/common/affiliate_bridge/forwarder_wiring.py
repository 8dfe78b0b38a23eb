"""Wiring for the forwarder function: settings and clients in, a batch handler out."""

from __future__ import annotations

from typing import Any

from affiliate_bridge.forwarder_batch import ForwarderBatch
from affiliate_bridge.forwarding import Forwarder
from affiliate_bridge.ledger import Ledger
from affiliate_bridge.partnero_client import PartneroClient
from affiliate_bridge.payment_state_store import PaymentStateStore
from affiliate_bridge.referrals_store import ReferralsStore
from affiliate_bridge.secrets import resolve_secret
from affiliate_bridge.settings import Settings
from affiliate_bridge.transactions_queue import TransactionsQueue


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
