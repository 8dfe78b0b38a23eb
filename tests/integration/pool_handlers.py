"""Handlers for test_function_pool: each does one thing an execution environment meets."""

from __future__ import annotations

import os
import time
from typing import Any

from affiliate_bridge.errors import ConfigurationError


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Who served it, and what it saw."""
    return {"pid": os.getpid(), "event": event, "function": context.function_name, "secret": os.environ.get("S")}


def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(float(event.get("seconds", 0.5)))
    return {"pid": os.getpid()}


def raises(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise ValueError("the handler failed")


def dies(event: dict[str, Any], context: Any) -> dict[str, Any]:
    os._exit(3)


def __getattr__(name: str) -> Any:
    """``not_configured`` fails as a handler module whose settings are wrong fails to load."""
    if name == "not_configured":
        raise ConfigurationError("S_TOLERANCE must be a positive number of seconds, not 0")
    raise AttributeError(name)
