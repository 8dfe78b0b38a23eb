"""Powertools Logger, Metrics and Tracer, created once and shared by every module.

Metric names are constants so dashboards, alarms (template.yaml) and tests agree. Logs
carry ids and hashes only, and every line passes ``identity.redact_emails`` on its way out,
so an email address never reaches a log line whoever wrote it.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from affiliate_bridge.domain.identity import redact_emails

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "affiliate-bridge")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AffiliateBridge")


class _RedactingFormatter(LambdaPowertoolsFormatter):
    """Every log line passes here last. Call sites already log ids and hashes, but a
    merchant's customer key, a provider's error text or an exception message can still
    carry an email address; this is the one place that guarantees none leaves."""

    def serialize(self, log: Any) -> str:
        return redact_emails(super().serialize(log))


logger = Logger(service=SERVICE, logger_formatter=_RedactingFormatter())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


class _TracingOff:
    """Stands in for Tracer where Powertools would trace nothing anyway.

    Creating a Powertools Tracer imports the X-Ray SDK even when tracing is disabled:
    about 110 ms of cold start (make bench), and outside Lambda the SDK's default sampler
    also builds botocore clients (0.1-0.3 s more here). Powertools disables tracing when
    POWERTOOLS_TRACE_DISABLED is true and whenever it runs outside Lambda or under
    ``sam local`` (``Tracer._is_tracer_disabled``); in both cases there is nothing to pay for.
    """

    def capture_lambda_handler(self, handler: Any = None, **_: Any) -> Any:
        return handler if handler is not None else (lambda fn: fn)

    def capture_method(self, method: Any = None, **_: Any) -> Any:
        return method if method is not None else (lambda fn: fn)


def _tracing_disabled() -> bool:
    # Powertools' own truthy spellings (shared.functions.strtobool).
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in {"1", "y", "yes", "t", "true", "on"}:
        return True
    in_lambda = bool(os.environ.get("LAMBDA_TASK_ROOT"))
    emulated = bool(os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE"))
    return not in_lambda or emulated


def _make_tracer() -> Any:
    if _tracing_disabled():
        return _TracingOff()
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


tracer: Any = _make_tracer()

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
FORWARD_FAILURES = "ForwardFailures"  # dead-lettered by the forwarder (permanent answer)
# Unexpected failures (a bug, DynamoDB down): the "forwarder failing" alarm watches this,
# not Lambda Errors, which a batch of routine retries no longer raises.
FORWARD_ERRORS = "ForwardErrors"
# Records handed back untouched because the invocation was about to time out.
DEADLINE_RETURNS = "RecordsReturnedAtDeadline"
# A reversal for a payment the forwarder has no sale for (yet): normal for a refund that
# beats its sale, a sign of a missing invoice_payment.paid subscription if it persists.
ORPHAN_REVERSALS = "ReversalsWithoutSale"
# The scheduled reconciler: events it fed that had never arrived (dimension "provider"),
# notifications it asked Paddle to deliver again, and the drift its reconcile found.
RECOVERED = "EventsRecovered"
REPLAYS_REQUESTED = "NotificationReplaysRequested"
RECONCILE_DRIFT = "ReconcileDrift"
# A secret is missing, empty or a placeholder, dimension "secret" (its variable name):
# one alarm per secret in template.yaml says which one to set.
SECRET_NOT_CONFIGURED = "SecretNotConfigured"  # noqa: S105 (a metric name, not a secret)


def count_secret_not_configured(secret_name: str) -> None:
    """Emitted on its own (not with the invocation's other metrics) so its dimensions are
    exactly service + secret, whatever the function: the alarms match on those."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(
        name=SECRET_NOT_CONFIGURED,
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name="secret", value=secret_name)
