"""Four narrow patches to moto: two so the embedded AWS keeps up with a burst, two so it
keeps promises the real services make: a single DynamoDB request is atomic, and a FIFO
queue never has two messages of one group in flight.

**SQS.** The cause (moto 5.2.x, ``moto/sqs/models.py``): ``Queue.attributes`` builds every queue
attribute, including ``ApproximateNumberOfMessages``, ``...NotVisible`` and
``...Delayed``, each a scan of every message in the queue with a clock read per
message. ``SendMessage`` on a FIFO queue reads ``queue.attributes.get(
"ContentBasedDeduplication")`` four times (``_validate_message``, ``send_message``,
``add_message``), so one send costs O(messages in the queue) and a burst costs
O(n²): measured in-process, 64 sends/s for the first 200 messages and 25/s for the
next 200 (`make bench` prints it before and after this patch).

The patch makes ``attributes`` a read-only mapping that computes an attribute when it
is read, with the same names, values and conversions (booleans as "true"/"false",
the redrive policy as JSON, the KMS attributes only when a key is set). A
``GetQueueAttributes`` reads the counts as before; a send reads one flag. Nothing else
in moto changes. ``tests/unit/devtools/test_moto_speedups.py`` checks that every
attribute of every kind of queue reads the same with and without it.

**DynamoDB.** A ``Query`` on the table itself (not an index) gathers its candidates
from ``Table.all_items()``, which lists and sorts every item in the table, then keeps
those of the queried partition: every query costs O(n log n) in the table's size
(``moto/dynamodb/models/table.py``). Profiled under a 200-webhook burst, that sort was
half of the local stack's CPU. The patch lets such a query see only its own partition
(``Table.items[hash_key]``, sorted the same way); everything after that (key
conditions, filters, paging, projections) is moto's own code. Index queries and scans
are unchanged. The same test file checks queries answer the same with and without it.

**DynamoDB atomicity.** moto's server answers requests on many threads and its
DynamoDB backend has no lock. ``UpdateItem`` on a new item stores a key-only item,
then applies the update expression to it (``DynamoDBBackend.update_item``), so a
concurrent ``Query`` or ``GetItem`` can read an item DynamoDB would never show: a
parked payment without its amount or expiry, found by a referral racing its payment
(a 500 in CI's ``test_a_referral_racing_its_payment_is_credited_once_whichever_wins``).
Conditional writes are check-then-act there too, so two ``attribute_not_exists``
puts at once could both win. The patch runs each DynamoDB request under one lock:
every request is atomic, as in DynamoDB, and the order they take is one DynamoDB
could have given (moto holds the interpreter lock for nearly all of a request anyway,
so the burst figures do not move).

**SQS FIFO message groups.** ``SQSBackend.receive_message`` has no lock either. It
copies the queue's pending message groups once, when it starts, then walks the
messages; two ``ReceiveMessage`` calls on two server threads can each copy the
groups before the other has taken anything, and each deliver a message of the same
group. SQS never does (a group with a message in flight delivers nothing more until
it is deleted or its visibility ends), and the forwarder relies on it: under load in
CI's ``test_the_same_payment_delivered_at_once_by_many_is_one_transaction`` two
forwarder workers each held a message of one payment, and the affiliate API was
asked to create its transaction twice. The patch makes each receive attempt atomic:
moto's own receive, without its long-poll wait, under one lock, with the waiting done
outside the lock (so a long poll never holds up another queue or a send), in steps of
at most a second as moto's own loop takes them. moto's wait wakes as soon as any
message is visible, even one whose group is in flight, and then spins; the patch
sleeps 20 ms between attempts instead. moto receives inside a receive when it moves a
message to a dead-letter queue with an event source mapping; that inner receive runs
as it is, under the outer one's lock.
"""

from __future__ import annotations

import contextvars
import functools
import json
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from affiliate_bridge_dev.moto_patching import install, remove_all

_APPLIED = False


class LazyQueueAttributes(Mapping[str, Any]):
    """``Queue.attributes`` as moto builds it, one attribute at a time."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def _names(self) -> list[str]:
        queue = self._queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += queue.KMS_ATTRIBUTES
        return names

    def __getitem__(self, name: str) -> Any:
        from moto.core.utils import camelcase_to_underscores

        if name not in self._names():
            raise KeyError(name)
        value = getattr(self._queue, camelcase_to_underscores(name))
        if name == "RedrivePolicy" and value:
            value = json.dumps(value)
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


# The partition a base-table Query on this thread (moto's server thread) is reading.
_QUERIED_PARTITION: contextvars.ContextVar[Any] = contextvars.ContextVar("queried_partition", default=None)


def _partition_query(original: Any) -> Any:
    def query(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None or not table.range_key_attr:
            return original(table, hash_key, *args, **kwargs)
        token = _QUERIED_PARTITION.set(hash_key)
        try:
            return original(table, hash_key, *args, **kwargs)
        finally:
            _QUERIED_PARTITION.reset(token)

    return query


def _partition_items(original: Any) -> Any:
    def all_items(table: Any) -> Any:
        hash_key = _QUERIED_PARTITION.get()
        if hash_key is None:
            return original(table)
        partition = table.items.get(hash_key) or {}
        return sorted(partition.values(), key=lambda item: (item.hash_key, item.range_key))

    return all_items


_DYNAMODB_REQUEST_LOCK = threading.RLock()


def _one_request_at_a_time(original: Any) -> Any:
    @functools.wraps(original)
    def call_action(handler: Any) -> Any:
        with _DYNAMODB_REQUEST_LOCK:
            return original(handler)

    return call_action


_SQS_RECEIVE_LOCK = threading.Lock()
_RECEIVE_IDLE_SECONDS = 0.02
_RECEIVING = threading.local()  # set while this thread holds the lock


def _one_receive_at_a_time(original: Any) -> Any:
    @functools.wraps(original)
    def receive_message(
        backend: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        if getattr(_RECEIVING, "active", False):
            # moto's own receive, from inside one: a message moved to a dead-letter queue
            # with an event source mapping is received for it there. Already atomic.
            return original(
                backend, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names
            )
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            with _SQS_RECEIVE_LOCK:
                _RECEIVING.active = True
                try:
                    received = original(backend, queue_name, count, 0, visibility_timeout, message_attribute_names)
                finally:
                    _RECEIVING.active = False
            left = deadline - time.monotonic()
            if received or left <= 0:
                return received
            queue = backend.get_queue(queue_name)
            if queue.messages:  # visible, but their groups are in flight: moto's wait would not wait
                time.sleep(min(_RECEIVE_IDLE_SECONDS, left))
            else:
                queue.wait_for_messages(min(1.0, left))

    return receive_message


def apply() -> None:
    """Install the four patches, ``moto_request_speedups``'s, ``moto_update_speedups``'s
    and ``moto_transaction_speedups``'s (idempotent); call before moto handles a request."""
    global _APPLIED
    if _APPLIED:
        return
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.models import Queue, SQSBackend

    from affiliate_bridge_dev import moto_request_speedups, moto_transaction_speedups, moto_update_speedups

    install(Queue, "attributes", property(LazyQueueAttributes))
    install(Table, "query", _partition_query(Table.query))
    install(Table, "all_items", _partition_items(Table.all_items))
    install(DynamoHandler, "call_action", _one_request_at_a_time(DynamoHandler.call_action))
    install(SQSBackend, "receive_message", _one_receive_at_a_time(SQSBackend.receive_message))
    moto_request_speedups.apply()
    moto_update_speedups.apply()
    moto_transaction_speedups.apply()
    _APPLIED = True


def remove() -> None:
    """Take every patch back (the tests compare moto with and without them)."""
    global _APPLIED
    remove_all()
    _APPLIED = False
