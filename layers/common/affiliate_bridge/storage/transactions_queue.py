"""Enqueue transaction messages on the FIFO TransactionsQueue.

FIFO with the transaction key as message group: SQS hands the forwarder one message of a
payment at a time, in the order the webhooks accepted them, so a sale and its refund
are never folded concurrently. The deduplication id is the provider event id plus the
key, so a provider's retry within SQS's five-minute window is dropped by SQS itself;
later retries are harmless because the forwarder folds facts idempotently.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from affiliate_bridge.domain.messages import TransactionMessage

# What SQS accepts as a MessageGroupId: 1 to 128 of these characters (no spaces, ASCII only).
_GROUP_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


def message_group_id(transaction_key: str) -> str:
    """The key itself when SQS accepts it (so the console shows it), else a digest of it.

    Payment keys are provider ids and always fit; a customer key is the merchant's own
    string and may hold spaces, accents or 200 characters, which SQS would refuse, and
    the signup it carries would be lost with a 500 on every retry.
    """
    if _GROUP_ID.fullmatch(transaction_key):
        return transaction_key
    return "sha256-" + hashlib.sha256(transaction_key.encode("utf-8")).hexdigest()


def deduplication_id(message: TransactionMessage) -> str:
    # SQS allows 128 characters; a digest keeps long ids inside that.
    raw = f"{message.provider}:{message.event_id}:{message.transaction_key}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class TransactionsQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, message: TransactionMessage) -> str:
        """Returns SQS's message id once SQS has durably accepted the message."""
        response = self._client.send_message(
            QueueUrl=self._url,
            MessageBody=message.to_json(),
            MessageGroupId=message_group_id(message.transaction_key),
            MessageDeduplicationId=deduplication_id(message),
            MessageAttributes={
                "provider": {"DataType": "String", "StringValue": message.provider},
                "kind": {"DataType": "String", "StringValue": message.kind},
                "schema_version": {"DataType": "Number", "StringValue": str(message.schema_version)},
            },
        )
        return str(response["MessageId"])
