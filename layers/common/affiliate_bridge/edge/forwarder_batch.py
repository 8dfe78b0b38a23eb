"""SQS batch handling for the forwarder: Powertools FIFO partial-batch processing.

Per record:

* unreadable message or permanent API error -> sent to the dead-letter queue with the
  reason as message attributes, then reported as processed (it must not block its group);
* retryable API error -> the message's visibility is set to the backoff (at least the
  API's Retry-After), and it is reported failed; SQS redelivers it then, and moves it to
  the dead-letter queue after the queue's maxReceiveCount;
* anything else (a bug, DynamoDB down) -> reported failed, retried by SQS the same way.

``skip_group_on_error`` keeps FIFO order per payment: a failed message holds back the
later messages of its own payment only, not the rest of the batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from affiliate_bridge.domain.identity import redact_emails
from affiliate_bridge.domain.messages import ORIGIN_MESSAGE_ID, TransactionMessage
from affiliate_bridge.edge import observability as obs
from affiliate_bridge.errors import (
    DeadlineReached,
    PermanentError,
    RetryableError,
    SecretNotConfigured,
    UnreadableMessage,
)
from affiliate_bridge.forwarding.forwarder import Forwarder, ForwardResult
from affiliate_bridge.forwarding.state import CreateTransaction, DeleteTransaction

SQS_MAX_VISIBILITY_SECONDS = 43_200


def backoff_seconds(receive_count: int, retry_after: float | None, base_seconds: int, max_seconds: int) -> int:
    """Exponential backoff per delivery (base, 2x base, ... capped at ``max_seconds``),
    never shorter than what the API asked for, never longer than SQS allows (12 h)."""
    exponential = min(base_seconds * (1 << max(receive_count - 1, 0)), max_seconds)
    wanted = max(exponential, int(retry_after or 0))
    return min(wanted, SQS_MAX_VISIBILITY_SECONDS)


# Set on every dead letter (``_dead_letter``); SQS's own redrive (the console's "start
# DLQ redrive") moves the letter back with it, where `dlq redrive` sets ORIGIN_MESSAGE_ID.
SOURCE_MESSAGE_ID = "source_message_id"


def _attribute(record: SQSRecord, name: str) -> str | None:
    attribute = record.message_attributes[name]
    return attribute.string_value if attribute is not None else None


def _origin_message_id(record: SQSRecord) -> str:
    """The id the webhook's enqueue got, however the message came back since."""
    return _attribute(record, ORIGIN_MESSAGE_ID) or _attribute(record, SOURCE_MESSAGE_ID) or record.message_id


def _first_receive(record: SQSRecord) -> bool:
    """The provider's delivery, as against SQS handing the message out again (a retry,
    or a redrive from the dead-letter queue, ours or SQS's own)."""
    redriven = _origin_message_id(record) != record.message_id
    return int(record.attributes.approximate_receive_count or 1) == 1 and not redriven


def count(name: str, provider: str, value: int = 1) -> None:
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=obs.NAMESPACE) as metric:
        metric.add_dimension(name="provider", value=provider)


@dataclass
class ForwarderBatch:
    forwarder: Forwarder
    sqs: Any
    queue_url: str
    dead_letter_queue_url: str
    retry_base_seconds: int = 30
    retry_max_seconds: int = 900
    # Time a record needs in the worst case: one affiliate API call at its timeouts
    # (connect + read) plus the DynamoDB writes around it. A record is not started with
    # less than this left before the Lambda timeout.
    deadline_margin_seconds: float = 15.0
    # Message ids this invocation handed to _record (the rest of a failed batch was skipped).
    _touched: set[str] = field(default_factory=set)

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # A batch whose every record waits for a busy API is routine, not a function
        # error: report the failures instead of raising, so the Lambda Errors alarm means
        # a real fault. Unexpected failures are logged and counted (FORWARD_ERRORS).
        processor.raise_on_entire_batch_failure = False
        response = process_partial_response(
            event=event, record_handler=self._record, processor=processor, context=context
        )
        self._release_skipped(event, response)
        return dict(response)

    def _release_skipped(self, event: dict[str, Any], response: Any) -> None:
        """Records the processor skipped (later messages of a group whose earlier one
        failed) were never looked at: hand them back at once instead of after the queue's
        visibility timeout (180 s). Order holds: SQS hands out nothing of a group while its
        earlier message waits out its own backoff in flight."""
        failed = {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
        skipped = failed - self._touched
        for raw in event.get("Records", []):
            if raw.get("messageId") in skipped:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=raw["receiptHandle"], VisibilityTimeout=0
                )
        self._touched.clear()

    def _record(self, record: SQSRecord, lambda_context: Any = None) -> None:
        self._touched.add(record.message_id)
        if self._out_of_time(lambda_context):
            # Untouched: hand it straight back (visible now) rather than start a call the
            # Lambda timeout would cut off mid-way; the receive it cost is the only loss.
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=0
            )
            count(obs.DEADLINE_RETURNS, "all")
            raise DeadlineReached(record.message_id)
        try:
            message = TransactionMessage.from_json(record.body)
        except UnreadableMessage as exc:
            self._dead_letter(record, "unreadable_message", str(exc), provider="unknown")
            return
        obs.logger.append_keys(
            correlation_id=message.event_id, transaction_key=message.transaction_key, message_id=record.message_id
        )
        try:
            result = self._forward(message, record)
        except RetryableError as exc:
            delay = self._retry_later(record, exc.retry_after)
            count(obs.FORWARD_RETRIES, message.provider)
            obs.logger.warning(
                "affiliate API busy: retrying later", extra={"status": exc.status, "delay_seconds": delay}
            )
            raise
        except SecretNotConfigured as exc:
            # No usable API key: nothing was sent. Wait as long as a busy API would, so the
            # operator has the longest time to set it before the queue gives up; the alarm
            # on SecretNotConfigured names the secret.
            delay = self._retry_later(record, None)
            obs.count_secret_not_configured(exc.name)
            obs.logger.error("affiliate API key not configured: retrying later", extra={"delay_seconds": delay})
            raise
        except PermanentError as exc:
            self._dead_letter(
                record, "affiliate_api_rejected", str(exc), provider=message.provider, status=exc.status, body=exc.body
            )
            return
        if message.reversal is not None and result.state.sale is None:
            count(obs.ORPHAN_REVERSALS, message.provider)
            obs.logger.warning(
                "reversal kept for a payment without a sale (yet): it applies when the sale arrives",
                extra={"reason": message.reversal.reason, "source_id": message.reversal.source_id},
            )
        for step in result.steps:
            if isinstance(step, CreateTransaction):
                count(obs.FORWARDED, message.provider)
            elif isinstance(step, DeleteTransaction):
                count(obs.REVERSED, message.provider)
        obs.logger.info(
            "message forwarded",
            extra={
                "kind": message.kind,
                "steps": [type(s).__name__ for s in result.steps],
                "applied_key": result.state.applied_key,
                "applied_minor": result.state.applied_minor,
                "currency": result.state.currency,
            },
        )

    def _out_of_time(self, lambda_context: Any) -> bool:
        remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
        return callable(remaining) and remaining() < self.deadline_margin_seconds * 1000

    def _forward(self, message: TransactionMessage, record: SQSRecord) -> ForwardResult:
        """The use case, with every unexpected failure logged with its reason and counted:
        SQS retries the message, and a poison message is visible long before it reaches
        the dead-letter queue."""
        try:
            self.forwarder.record_entry(message, _origin_message_id(record), _first_receive(record))
            return self.forwarder.forward(message)
        except (RetryableError, PermanentError, SecretNotConfigured):
            raise
        except Exception as exc:
            count(obs.FORWARD_ERRORS, message.provider)
            obs.logger.exception("message failed: SQS will retry it", extra={"reason": type(exc).__name__})
            raise

    def _retry_later(self, record: SQSRecord, retry_after: float | None) -> int:
        delay = backoff_seconds(
            int(record.attributes.approximate_receive_count or 1),
            retry_after,
            self.retry_base_seconds,
            self.retry_max_seconds,
        )
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=delay
        )
        return delay

    def _dead_letter(
        self, record: SQSRecord, reason: str, detail: str, provider: str, status: int | None = None, body: str = ""
    ) -> None:
        # The API's answer may echo the customer's email ("email already taken"): the
        # dead-letter queue keeps it for days, so it is redacted like a log line.
        detail, body = redact_emails(detail), redact_emails(body)
        attributes = {
            "failure_reason": {"DataType": "String", "StringValue": reason},
            "failure_detail": {"DataType": "String", "StringValue": detail[:1000] or reason},
            "failed_at": {"DataType": "Number", "StringValue": str(int(time.time()))},
            # The id the webhook's enqueue got (the ledger's and explain's message id), kept
            # across redrives, so `dlq list` and `explain` name a dead letter the same way.
            SOURCE_MESSAGE_ID: {"DataType": "String", "StringValue": _origin_message_id(record)},
        }
        if status is not None:
            attributes["failure_status"] = {"DataType": "Number", "StringValue": str(status)}
        if body:
            attributes["failure_body"] = {"DataType": "String", "StringValue": body[:1000]}
        self.sqs.send_message(
            QueueUrl=self.dead_letter_queue_url,
            MessageBody=record.body,
            MessageGroupId=record.attributes.message_group_id or "unknown",
            MessageDeduplicationId=record.message_id,
            MessageAttributes=attributes,
        )
        count(obs.FORWARD_FAILURES, provider)
        obs.logger.error("message dead-lettered", extra={"reason": reason, "detail": detail[:300], "status": status})
