"""Small helpers over the low-level DynamoDB client.

The low-level client is used instead of ``boto3.resource``: building a resource loads
its model at cold start (tens of milliseconds) for convenience we do not need.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from affiliate_bridge.storage.keys import Key

T = TypeVar("T")
CONFLICT_ATTEMPTS = 4
_CONFLICT_BACKOFF_SECONDS = 0.02
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; every number we store is an integer."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_plain(v) for v in value]
    return value


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def key(where: Key) -> dict[str, Any]:
    return {"pk": {"S": where.pk}, "sk": {"S": where.sk}}


def keyed_item(where: Key, values: Mapping[str, Any]) -> dict[str, Any]:
    """An item under ``where``, its other attributes serialised (None values left out)."""
    return to_item({"pk": where.pk, "sk": where.sk, **values})


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def is_conditional_failure(exc: Exception) -> bool:
    return _error_code(exc) == "ConditionalCheckFailedException"


def is_transaction_cancelled(exc: Exception) -> bool:
    """A TransactWriteItems refused as a whole: a condition failed, or it met another write."""
    return _error_code(exc) == "TransactionCanceledException"


def cancellation_codes(exc: Exception) -> list[str | None]:
    """Why a cancelled transaction refused each of its items, in order ("None" where
    that item was fine, e.g. ``ConditionalCheckFailed``, ``TransactionConflict``)."""
    response = getattr(exc, "response", None)
    reasons = response.get("CancellationReasons", []) if isinstance(response, dict) else []
    return [reason.get("Code") for reason in reasons]


def is_transaction_conflict(exc: Exception) -> bool:
    return _error_code(exc) == "TransactionConflictException"


def retrying_conflicts(write: Callable[..., T], **request: Any) -> T:
    """``write(**request)``, again when DynamoDB refuses it because a transaction holds the
    item at that moment (``TransactionConflictException``, which botocore does not retry).
    A webhook's parking checks alias and referral items inside a transaction for a few
    milliseconds (``ParkedPayments.park_unless_claimed``); a referral written then must not
    fail for it. A refused write changed nothing, so sending it again is safe."""
    for attempt in range(1, CONFLICT_ATTEMPTS):
        try:
            return write(**request)
        except Exception as exc:
            if not is_transaction_conflict(exc):
                raise
        time.sleep(_CONFLICT_BACKOFF_SECONDS * attempt)
    return write(**request)


def assignments(values: Mapping[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``SET`` clauses for an update_item, with placeholder names and values (attribute
    names such as ``provider`` or ``at`` are reserved words); None values are left out."""
    serialized = to_item(values)
    names = {f"#f{i}": name for i, name in enumerate(serialized)}
    sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(serialized)))
    return sets, names, {f":v{i}": value for i, value in enumerate(serialized.values())}
