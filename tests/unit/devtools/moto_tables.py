"""The tables the moto patch tests create: pay-per-request, string keys."""

from __future__ import annotations

from typing import Any


def create_table(dynamodb: Any, name: str, hash_key: str, range_key: str | None = None) -> None:
    keys = [(hash_key, "HASH")] + ([(range_key, "RANGE")] if range_key else [])
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"} for attribute, _ in keys],
        KeySchema=[{"AttributeName": attribute, "KeyType": kind} for attribute, kind in keys],
    )
