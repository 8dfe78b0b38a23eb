"""What an operator asks of a running bridge: explain, referrals, dead letters.

Plain functions over boto3 clients so the CLI stays a thin printer and tests can call
them directly against the local stack or moto.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from affiliate_bridge.domain.events import transaction_key as key_of_payment
from affiliate_bridge.domain.messages import ORIGIN_MESSAGE_ID
from affiliate_bridge.forwarding.state import from_record
from affiliate_bridge.storage import keys
from affiliate_bridge.storage.dynamo import from_item, key
from affiliate_bridge.storage.referrals import payment_key_of


def _providers() -> tuple[str, ...]:
    """The payment providers wiring builds. Imported here, not at the top: wiring loads
    Powertools (about half a second), which every other CLI command can do without."""
    from affiliate_bridge.wiring import PAYMENT_PROVIDERS

    return tuple(PAYMENT_PROVIDERS)


FAILURE_ATTRIBUTES = (
    "failure_reason",
    "failure_detail",
    "failure_status",
    "failure_body",
    "failed_at",
    "source_message_id",
    "origin_message_id",
    "redriven_from",
)


@dataclass
class Explanation:
    query: str
    events: list[dict[str, Any]] = field(default_factory=list)
    transaction_keys: list[str] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    referral: dict[str, Any] | None = None
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    # Platform deliveries older than one already applied: recorded, changed nothing.
    stale: list[dict[str, Any]] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.events or self.states or self.referral)


def _by_transaction_key(dynamodb: Any, table: str, transaction_key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": keys.TRANSACTION_KEY_INDEX,
        "KeyConditionExpression": "transaction_key = :k",
        "ExpressionAttributeValues": {":k": {"S": transaction_key}},
    }
    while True:
        page = dynamodb.query(**kwargs)
        items.extend(from_item(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def explain(dynamodb: Any, table: str, identifier: str) -> Explanation:
    """Everything recorded about an event id, a payment id, a transaction key or a customer."""
    result = Explanation(identifier)
    _customer_records(dynamodb, table, identifier, result)
    found_keys = _events_named(dynamodb, table, identifier, result)
    found_keys += _payments_named(dynamodb, table, identifier)
    if result.referral is not None:
        found_keys += payments_of_customer(dynamodb, table, identifier)
    found_keys += _parked_under(dynamodb, table, identifier)
    for transaction_key in dict.fromkeys(found_keys):
        _payment_records(dynamodb, table, transaction_key, result)
    result.events.sort(key=lambda e: e.get("first_seen_at", 0))
    return result


def payments_of_customer(dynamodb: Any, table: str, customer_key: str) -> list[str]:
    """The payments whose sale names this customer. There is no index by customer (the
    functions never need one), so this scans the table, paginated: fine for an operator's
    question, not for a hot path."""
    found: list[tuple[int, str]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "sk = :state AND sale.customer_key = :customer",
        "ExpressionAttributeValues": {":state": {"S": keys.STATE_SK}, ":customer": {"S": customer_key}},
    }
    while True:
        page = dynamodb.scan(**kwargs)
        for item in map(from_item, page.get("Items", [])):
            found.append((int(item.get("sale_occurred_at") or 0), from_record(item).transaction_key))
        if "LastEvaluatedKey" not in page:
            return [key for _, key in sorted(found)]
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _parked_under(dynamodb: Any, table: str, provider_customer_id: str) -> list[str]:
    """Payments parked under a provider customer id (cus_..., ctm_...) that no referral
    claimed yet: explain of that id then shows them as unattributed."""
    from affiliate_bridge.domain.referrals import provider_customer_kind

    found: list[str] = []
    for provider in _providers():
        items = dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={
                ":pk": {"S": keys.parked_under(provider_customer_kind(provider), provider_customer_id)}
            },
        ).get("Items", [])
        found += [str(from_item(item)["parked_transaction_key"]) for item in items]
    return found


def _customer_records(dynamodb: Any, table: str, customer_key: str, result: Explanation) -> None:
    items = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.customer(customer_key)}},
    ).get("Items", [])
    for item in map(from_item, items):
        if item["sk"] == keys.REFERRAL_SK:
            result.referral = item
        elif item["sk"].startswith(keys.CONFLICT):
            result.conflicts.append(item)
        elif item["sk"].startswith(keys.STALE):
            result.stale.append(item)


def _events_named(dynamodb: Any, table: str, event_id: str, result: Explanation) -> list[str]:
    """The provider events with this id; returns the transaction keys they name."""
    named: list[str] = []
    for provider in _providers():
        item = dynamodb.get_item(TableName=table, Key=key(keys.event(provider, event_id))).get("Item")
        if item:
            event = from_item(item)
            result.events.append(event)
            if event.get("transaction_key"):
                named.append(event["transaction_key"])
    return named


def _payments_named(dynamodb: Any, table: str, identifier: str) -> list[str]:
    """Transaction keys ``identifier`` is, or is a provider payment id or linked id of."""
    candidates = [identifier] + [key_of_payment(p, identifier) for p in _providers()]
    for provider in _providers():
        ref = dynamodb.get_item(TableName=table, Key=key(keys.payment_ref(provider, identifier))).get("Item")
        linked = payment_key_of(ref)
        if linked:
            candidates.append(linked)
    return [
        candidate
        for candidate in candidates
        if dynamodb.get_item(TableName=table, Key=key(keys.payment_state(candidate))).get("Item")
        or _by_transaction_key(dynamodb, table, candidate)
    ]


def _payment_records(dynamodb: Any, table: str, transaction_key: str, result: Explanation) -> None:
    result.transaction_keys.append(transaction_key)
    for item in _by_transaction_key(dynamodb, table, transaction_key):
        if item["pk"].startswith(keys.EVENT) and item not in result.events:
            result.events.append(item)
    state = dynamodb.get_item(TableName=table, Key=key(keys.payment_state(transaction_key))).get("Item")
    if state:
        result.states[transaction_key] = from_item(state)
    history = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :a)",
        ExpressionAttributeValues={":pk": {"S": keys.payment(transaction_key)}, ":a": {"S": keys.ATTEMPT}},
    ).get("Items", [])
    result.attempts[transaction_key] = [from_item(i) for i in history]


def list_referrals(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(pk, :p) AND sk = :s",
        "ExpressionAttributeValues": {":p": {"S": keys.CUSTOMER}, ":s": {"S": keys.REFERRAL_SK}},
    }
    while True:
        page = dynamodb.scan(**kwargs)
        for item in page.get("Items", []):
            values = from_item(item)
            values["customer_key"] = keys.customer_key_of(values["pk"])
            rows.append(values)
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(rows, key=lambda r: r.get("created_at", 0))


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    group: str | None
    attributes: dict[str, str]
    receive_count: int

    @property
    def origin_message_id(self) -> str:
        """The id the webhook's enqueue got, which the ledger and explain show: a
        dead letter sent by the forwarder or moved by a redrive has a new SQS id."""
        return self.attributes.get("source_message_id") or self.attributes.get(ORIGIN_MESSAGE_ID) or self.message_id

    def named(self, message_id: str) -> bool:
        return message_id in (self.message_id, self.origin_message_id)

    @property
    def transaction_key(self) -> str | None:
        try:
            body = json.loads(self.body)
        except ValueError:
            return None
        key = body.get("transaction_key") if isinstance(body, dict) else None
        return key if isinstance(key, str) else None


def _letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    return DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        group=attributes.get("MessageGroupId"),
        attributes={k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()},
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
    )


def _receive_all(
    sqs: Any, url: str, hold_seconds: int, consume: Callable[[DeadLetter], bool] | None = None
) -> list[DeadLetter]:
    """Every message the queue will hand out, held for ``hold_seconds``.

    Two things make a single empty answer meaningless: short polling samples only some
    of SQS's servers, and a FIFO queue hands out nothing more of a group while earlier
    messages of that group are in flight (held by us). So an empty answer is retried once
    with a wait, and ``consume`` (redrive) removes each message as it goes, which unlocks
    the rest of its group.
    """
    letters: dict[str, DeadLetter] = {}
    empty_answers = 0
    while empty_answers < 2:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=hold_seconds,
            WaitTimeSeconds=1 if empty_answers else 0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [_letter(m) for m in batch if m["MessageId"] not in letters]
        empty_answers = 0 if fresh else empty_answers + 1
        for letter in fresh:
            letters[letter.message_id] = letter
            if consume is not None:
                consume(letter)
    return list(letters.values())


def queue_count(sqs: Any, url: str) -> int:
    """What SQS says the queue holds (visible and in flight), to compare with what was seen."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def list_dead_letters(sqs: Any, dlq_url: str) -> list[DeadLetter]:
    """Peek: messages are held for a moment to read them all, then made visible again.
    A FIFO group with more than ten dead letters shows only its first ten (SQS hands out
    no more of a group while those are held); compare with ``queue_count``."""
    letters = _receive_all(sqs, dlq_url, hold_seconds=30)
    for letter in letters:
        sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0)
    return letters


def redrive(sqs: Any, dlq_url: str, queue_url: str, message_ids: set[str] | None = None) -> list[DeadLetter]:
    """Move dead letters (all, or those named) back to the transactions queue, in order.

    Each is sent and deleted as soon as it is received, so the rest of its FIFO group
    becomes reachable. A named message stuck behind unnamed ones of its group cannot be
    reached without moving those; the caller compares what was moved with what it asked.
    """
    moved: list[DeadLetter] = []
    skipped: list[DeadLetter] = []

    def move(letter: DeadLetter) -> bool:
        if message_ids is not None and not any(letter.named(wanted) for wanted in message_ids):
            skipped.append(letter)
            return False
        kwargs: dict[str, Any] = {
            "QueueUrl": queue_url,
            "MessageBody": letter.body,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value}
                for name, value in letter.attributes.items()
                if name not in FAILURE_ATTRIBUTES and value
            }
            | {
                "redriven_from": {"DataType": "String", "StringValue": letter.message_id},
                ORIGIN_MESSAGE_ID: {"DataType": "String", "StringValue": letter.origin_message_id},
            },
        }
        if queue_url.endswith(".fifo"):
            kwargs["MessageGroupId"] = letter.group or "redriven"
            kwargs["MessageDeduplicationId"] = f"redrive-{letter.message_id}-{uuid.uuid4().hex[:8]}"
        sqs.send_message(**kwargs)
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle)
        moved.append(letter)
        return True

    _receive_all(sqs, dlq_url, hold_seconds=60, consume=move)
    for letter in skipped:
        sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0)
    return moved


def age(seconds_since_epoch: float | int | None) -> str:
    if not seconds_since_epoch:
        return "-"
    delta = max(0, int(time.time() - float(seconds_since_epoch)))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if delta >= size:
            return f"{delta // size}{unit} ago"
    return f"{delta}s ago"
