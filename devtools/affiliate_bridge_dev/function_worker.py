"""One execution environment: a worker process that serves one invocation at a time.

``serve`` runs in each worker ``function_pool`` forks. The handler modules are already
loaded by the fork server (``function_worker_preload``), so the worker starts warm;
a worker forked without them (a test's own context) loads its handler itself.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any


def handler_for(function: str) -> Any:
    """``functions/<function>/app.py``'s handler, or ``package.module:name`` (tests)."""
    if ":" in function:
        import importlib

        module_name, _, attribute = function.partition(":")
        return getattr(importlib.import_module(module_name), attribute)
    from affiliate_bridge_dev.handlers import load_function_module, loaded_function_module

    module = loaded_function_module(function) or load_function_module(function)
    return module.lambda_handler


def serve(conn: Connection, function: str, niceness: int = 0) -> None:
    """Say whether the handler loaded, then answer (event, context args, env overrides)
    requests until told to stop (None). ``niceness``: how far to lower this worker's CPU
    priority once loaded (``FunctionPool``'s ``background``)."""
    from affiliate_bridge.errors import ConfigurationError
    from affiliate_bridge_dev.lambda_events import FakeLambdaContext

    try:
        handler = handler_for(function)
    except ConfigurationError as exc:  # the stack stops with this one line
        conn.send(("configuration_error", str(exc)))
        return
    except Exception:
        conn.send(("load_error", traceback.format_exc(limit=8)))
        return
    if niceness:
        with contextlib.suppress(OSError):  # an optimisation: a sandbox may forbid it
            os.nice(niceness)
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        event, context_args, env_overrides = request
        os.environ.update(env_overrides)
        try:
            reply = ("ok", handler(event, FakeLambdaContext(*context_args)))
        except Exception:  # what Lambda records for an unhandled error, then reports as one
            reply = ("error", traceback.format_exc(limit=8))
            sys.stderr.write(f"{function}: unhandled error\n{reply[1]}")
        conn.send(reply)
