"""Powertools Logger, Metrics and Tracer, created once and shared by every module.

Metric names are constants so dashboards, alarms (template.yaml) and tests agree. Logs
carry ids and hashes only: emails and names never reach a log line (see ``redact``).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "affiliate-bridge")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AffiliateBridge")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

# Webhook intake, dimension "provider".
RECEIVED = "EventsReceived"
SIGNATURE_FAILURES = "SignatureFailures"
REJECTED = "EventsRejected"
IGNORED = "EventsIgnored"
ATTRIBUTED = "PaymentsAttributed"
UNATTRIBUTED = "PaymentsUnattributed"
SKIPPED_ZERO = "PaymentsSkippedZeroAmount"
ENQUEUED = "MessagesEnqueued"
ENQUEUE_FAILURES = "EnqueueFailures"
# Referrals, dimension "outcome" (created, unchanged, updated, conflict, rejected).
REFERRALS = "Referrals"
# Forwarder, dimension "provider".
FORWARDED = "TransactionsForwarded"
REVERSED = "TransactionsReversed"
FORWARD_RETRIES = "ForwardRetries"
FORWARD_FAILURES = "ForwardFailures"
