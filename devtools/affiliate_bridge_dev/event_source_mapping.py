"""Drive a handler from SQS the way Lambda's event source mapping does.

Receive up to ``batch_size`` messages (waiting up to ``batching_window_seconds`` to fill
the batch), invoke the handler with a real SQS event, delete the messages it did not
report in ``batchItemFailures``; a handler that raises fails the whole batch. Failed
messages stay in the queue until their visibility timeout ends (the forwarder may have
changed it for backoff), and the queue's own redrive policy moves them to the
dead-letter queue after ``maxReceiveCount`` receives: moto implements that like SQS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from affiliate_bridge_dev.lambda_events import FakeLambdaContext, sqs_event

Handler = Callable[[dict[str, Any], Any], Any]
# The longest a poller holds a batch back for webhooks being answered, and how often it looks.
MAX_YIELD_SECONDS = 1.0
YIELD_POLL_SECONDS = 0.01


@dataclass
class BatchResult:
    received: int = 0
    failed: int = 0
    handler_error: str | None = None


class EventSourceMapping:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        batch_size: int = 10,
        batching_window_seconds: float = 0.0,
        function_name: str = "ForwarderFunction",
        function_timeout_seconds: int = 30,
        yield_to: Callable[[], bool] | None = None,
    ) -> None:
        """``yield_to``: run_forever waits while it is true (up to MAX_YIELD_SECONDS before
        each batch), as ``make run`` does while webhooks are being answered."""
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._batch_size = batch_size
        self._window = batching_window_seconds
        self._function_name = function_name
        self._timeout = function_timeout_seconds
        self._yield_to = yield_to
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        self._queue_arn = attributes["QueueArn"]

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + self._window
        while len(messages) < self._batch_size:
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(10, self._batch_size - len(messages)),
                WaitTimeSeconds=wait_seconds if not messages else 0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            got = response.get("Messages", [])
            messages.extend(got)
            if not got or time.monotonic() >= deadline:
                break
        return messages

    def poll_once(self, wait_seconds: int = 0, stop: threading.Event | None = None) -> BatchResult:
        messages = self._receive(wait_seconds)
        if not messages:
            return BatchResult()
        if stop is not None:
            self._wait_for_quiet(stop)  # a long poll may have returned in the middle of a burst
        event = sqs_event(messages, self._queue_arn)
        context = FakeLambdaContext(self._function_name, self._timeout)
        try:
            response = self._handler(event, context) or {}
        except Exception as exc:  # Lambda: the whole batch returns to the queue
            return BatchResult(received=len(messages), failed=len(messages), handler_error=repr(exc))
        failed_ids = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        return BatchResult(received=len(messages), failed=len(failed_ids))

    def _wait_for_quiet(self, stop: threading.Event) -> None:
        """In AWS the forwarder runs on its own CPU; on one machine its calls to the
        embedded AWS take the cores from the webhooks, whose callers are waiting (the
        forwarder's caller is a queue). So the local poller holds its next batch while a
        webhook is being answered, never longer than MAX_YIELD_SECONDS at a time: under
        a steady stream of webhooks the queue still drains."""
        if self._yield_to is None:
            return
        deadline = time.monotonic() + MAX_YIELD_SECONDS
        while self._yield_to() and time.monotonic() < deadline and not stop.is_set():
            time.sleep(YIELD_POLL_SECONDS)

    def drain(self, timeout_seconds: float = 30.0, idle_polls: int = 2) -> list[BatchResult]:
        """Poll until the queue is empty (nothing visible or in flight) or time runs out."""
        results: list[BatchResult] = []
        deadline = time.monotonic() + timeout_seconds
        idle = 0
        while time.monotonic() < deadline:
            result = self.poll_once()
            results.append(result)
            if result.received:
                idle = 0
                continue
            counts = self._sqs.get_queue_attributes(
                QueueUrl=self._queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if int(counts["ApproximateNumberOfMessages"]) + int(counts["ApproximateNumberOfMessagesNotVisible"]) == 0:
                idle += 1
                if idle >= idle_polls:
                    break
            time.sleep(0.05)
        return results

    def run_forever(self, stop: threading.Event, wait_seconds: int = 1) -> None:
        while not stop.is_set():
            self._wait_for_quiet(stop)
            try:
                self.poll_once(wait_seconds, stop)
            except Exception:  # keep polling like the managed poller does; errors are logged by handlers
                time.sleep(1)
