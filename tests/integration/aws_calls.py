"""Which AWS calls each function makes: recorded while the integration suite runs, so the
template's IAM policies can be compared with reality (test_least_privilege.py).

Every botocore call made while a handler runs is attributed to that handler's function
(a context variable set around the invocation); calls the tests make themselves (creating
tables, draining queues like the event source mapping) are not attributed to anyone.
"""

from __future__ import annotations

import contextvars
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("function", default=None)
CALLS: dict[str, set[str]] = defaultdict(set)
_installed = False


def _iam_action(client: BaseClient, operation: str) -> str:
    prefix = client.meta.service_model.signing_name  # dynamodb, sqs, secretsmanager
    return f"{prefix}:{operation}"


def install() -> None:
    """Wrap botocore's one entry point for API calls, once per test session."""
    global _installed
    if _installed:
        return
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        function = _current.get()
        if function is not None:
            CALLS[function].add(_iam_action(self, operation_name))
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = recording  # type: ignore[method-assign]
    _installed = True


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
