"""One narrow patch to moto's SQS, so the embedded AWS keeps up with a burst.

The cause (moto 5.2.x, ``moto/sqs/models.py``): ``Queue.attributes`` builds every queue
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
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

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


def apply() -> None:
    """Install the patch (idempotent); call before the moto server handles a request."""
    global _APPLIED
    if _APPLIED:
        return
    from moto.sqs.models import Queue

    Queue.attributes = property(LazyQueueAttributes)  # type: ignore[assignment,method-assign]
    _APPLIED = True
