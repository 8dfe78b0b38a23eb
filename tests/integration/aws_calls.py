"""Which AWS calls each function makes: recorded while the integration suite runs, so the
template's IAM policies can be compared with reality (test_least_privilege.py).

Every botocore call made while a handler runs is attributed to that handler's function
(a context variable set around the invocation) as an IAM action on a resource:
``("dynamodb:GetItem", "ReferralsTable")``. Calls the tests make themselves (creating
tables, polling the queue as Lambda's event source mapping does) are attributed to nobody.

Resources are recorded by the template's logical id, from the names the tests registered
(``name_resources``); a resource nobody registered is recorded as ``unknown:<name>``,
which no policy grants, so the comparison fails until somebody says what it is.
"""

from __future__ import annotations

import contextvars
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

from affiliate_bridge_dev.iam_actions import call_actions

Call = tuple[str, str]  # (IAM action, logical id of the resource)

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("function", default=None)
CALLS: dict[str, set[Call]] = defaultdict(set)
_logical_ids: dict[str, str] = {}
_original: Any = None


def name_resources(logical_ids: Mapping[str, str]) -> None:
    """Register local names (table name, queue URL, secret ARN) -> template logical id."""
    _logical_ids.update(logical_ids)


def _resource_names(service: str, params: Mapping[str, Any]) -> list[str]:
    """The resources one call acts on, as IAM evaluates them."""
    if service == "dynamodb":
        if "TableName" in params:
            index = params.get("IndexName")  # a query on an index needs a grant on table/index/<name>
            return [params["TableName"] + (f"/index/{index}" if index else "")]
        if "RequestItems" in params:  # BatchGetItem / BatchWriteItem
            return list(params["RequestItems"])
        # Transactions are named item by item (iam_actions.call_actions), never here.
    if service == "sqs" and "QueueUrl" in params:
        return [params["QueueUrl"]]
    if service == "secretsmanager" and "SecretId" in params:
        return [params["SecretId"]]
    return ["*"]  # an operation without a resource (ListQueues, ...): only a "*" grant allows it


def _logical(name: str) -> str:
    if name == "*":
        return name
    table, separator, index = name.partition("/index/")
    if separator and table in _logical_ids:
        return f"{_logical_ids[table]}/index/{index}"
    return _logical_ids.get(name, f"unknown:{name}")


def install() -> None:
    """Wrap botocore's one entry point for API calls (every client, whenever created)."""
    global _original
    if _original is not None:
        return
    original = _original = BaseClient._make_api_call

    def recording(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        function = _current.get()
        if function is not None:
            # IAM prefixes are the signing names (dynamodb, sqs, secretsmanager) and, for
            # these services, IAM actions are named like the API operations, except for
            # DynamoDB's transactions, authorised item by item (iam_actions).
            service = self.meta.service_model.signing_name
            for action, table in call_actions(service, operation_name, api_params):
                for name in [table] if table else _resource_names(service, api_params):
                    CALLS[function].add((action, _logical(name)))
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = recording


def uninstall() -> None:
    global _original
    if _original is not None:
        BaseClient._make_api_call = _original
        _original = None


@contextmanager
def calls_by(function: str) -> Iterator[None]:
    token = _current.set(function)
    try:
        yield
    finally:
        _current.reset(token)


def recorded(function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """The handler, with every AWS call it makes attributed to ``function``."""

    def invoke(event: Any, context: Any) -> Any:
        with calls_by(function):
            return handler(event, context)

    return invoke
