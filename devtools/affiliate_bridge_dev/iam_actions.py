"""What IAM calls an API call: usually the operation's own name, but not for DynamoDB's
transactions. IAM has no ``TransactWriteItems`` action: each item of a transaction (a
``TransactGetItems`` too) is authorised as the single-item action it stands for (AWS,
"Using IAM with DynamoDB transactions"), and ``dynamodb:ConditionCheckItem`` exists only
for the check inside one.

Read both ways: the least-privilege test turns each recorded call into the actions IAM
evaluates, and the model trimmer turns granted actions back into the calls a client needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TRANSACT_WRITE = "TransactWriteItems"
TRANSACTIONS = (TRANSACT_WRITE, "TransactGetItems")
TRANSACTION_ITEM_ACTIONS = {
    "ConditionCheck": "ConditionCheckItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "Get": "GetItem",
}
# Granted only to make a TransactWriteItems: a function holding it transacts.
TRANSACTION_ONLY_ACTIONS = {"ConditionCheckItem": TRANSACT_WRITE}


def call_actions(service: str, operation: str, params: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(IAM action, the table an item names, or None for the call's own resources)."""
    if service == "dynamodb" and operation in TRANSACTIONS:
        return [
            (f"dynamodb:{TRANSACTION_ITEM_ACTIONS[kind]}", body["TableName"])
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    return [(f"{service}:{operation}", None)]


def operation_for(action_name: str) -> str:
    """The API operation a granted action (without its service prefix) makes callable."""
    return TRANSACTION_ONLY_ACTIONS.get(action_name, action_name)
