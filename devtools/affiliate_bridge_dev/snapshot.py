"""Keep the local stack's state across a clean restart.

moto holds everything in memory, so a clean stop (Ctrl-C, SIGTERM) writes a snapshot
after the poller has stopped: every table item, every message still in the transactions
queue and the dead-letter queue (body, group, attributes), and the sandbox affiliate
API's customers and transactions. Messages are read from moto's own store, in order:
through the SQS API, a message in flight or waiting out a retry delay is invisible, and
a FIFO group hands out nothing behind ten held messages, so those would be lost. The
next start loads it back. A crash (kill -9) keeps only the previous snapshot: see
README, "What survives a restart".
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

SNAPSHOT_VERSION = 1


def moto_queue_messages(queue_url: str) -> list[dict[str, Any]]:
    """Every message of a queue of the embedded (in-process) moto server, visible or not,
    in queue order. Reads moto's backend: only for the local stack, which owns that moto."""
    from moto.sqs.models import sqs_backends

    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    for regions in sqs_backends.values():
        for backend in regions.values():
            queue = backend.queues.get(name)
            if queue is not None:
                return [
                    {
                        "body": message.body,
                        "group": message.group_id,
                        "attributes": dict(message.message_attributes or {}),
                    }
                    for message in list(queue._messages)
                ]
    raise LookupError(f"no embedded queue {name}")


def _drain_queue(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    seen: set[str] = set()
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            return messages
        for message in fresh:
            seen.add(message["MessageId"])
            messages.append(
                {
                    "body": message["Body"],
                    "group": message.get("Attributes", {}).get("MessageGroupId"),
                    "attributes": message.get("MessageAttributes", {}),
                }
            )


def _all_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def save_snapshot(
    path: Path,
    dynamodb: Any,
    sqs: Any,
    table: str,
    queue_url: str,
    dlq_url: str,
    sandbox: dict[str, Any] | None,
    read_queue: Callable[[str], list[dict[str, Any]]] | None = None,
) -> dict[str, int]:
    """Write the snapshot atomically; returns counts for the shutdown message.
    ``read_queue`` reads every message of a queue (``moto_queue_messages`` locally);
    without it, what the SQS API hands out is saved."""
    items = _all_items(dynamodb, table)
    queued = read_queue(queue_url) if read_queue else _drain_queue(sqs, queue_url)
    dead_letters = read_queue(dlq_url) if read_queue else _drain_queue(sqs, dlq_url)
    snapshot = {
        "version": SNAPSHOT_VERSION,
        "items": items,
        "queue": queued,
        "dead_letters": dead_letters,
        "sandbox": sandbox,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(snapshot, handle)
    os.replace(tmp, path)
    return {"items": len(items), "queued": len(queued), "dead_letters": len(dead_letters)}


def _resend(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    for index, message in enumerate(messages):
        kwargs: dict[str, Any] = {"QueueUrl": url, "MessageBody": message["body"]}
        if url.endswith(".fifo"):
            kwargs["MessageGroupId"] = message.get("group") or "restored"
            kwargs["MessageDeduplicationId"] = f"restored-{index}-{os.getpid()}"
        attributes = {
            name: {k: v for k, v in value.items() if k in ("DataType", "StringValue")}
            for name, value in (message.get("attributes") or {}).items()
        }
        if attributes:
            kwargs["MessageAttributes"] = attributes
        sqs.send_message(**kwargs)


def load_snapshot(
    path: Path, dynamodb: Any, sqs: Any, table: str, queue_url: str, dlq_url: str
) -> dict[str, Any] | None:
    """Restore a snapshot if there is one; returns it (for the sandbox part and counts)."""
    if not path.is_file():
        return None
    snapshot: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if snapshot.get("version") != SNAPSHOT_VERSION:
        raise RuntimeError(f"{path}: snapshot version {snapshot.get('version')} is not {SNAPSHOT_VERSION}")
    for item in snapshot["items"]:
        dynamodb.put_item(TableName=table, Item=item)
    _resend(sqs, queue_url, snapshot["queue"])
    _resend(sqs, dlq_url, snapshot["dead_letters"])
    return snapshot
