"""Imported once by the local stack's fork server, before it forks any worker.

It does what every execution environment's cold start would do, once: send stdout
(Powertools' JSON logs and EMF metrics) to the stack's log file, add the readable
terminal lines, and load every handler module named in ``LOCAL_STACK_FUNCTIONS`` (their
top level builds settings and boto3 clients from the environment). Workers forked from
here share those pages and start ready. Only the fork server imports this module.
"""

from __future__ import annotations

import os
import sys


def _preload() -> None:
    log_path = os.environ.get("LOCAL_STACK_LOG")
    if log_path:
        sys.stdout = open(log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - the process's stdout
    from affiliate_bridge.edge import observability
    from affiliate_bridge_dev.handlers import load_function_module
    from affiliate_bridge_dev.terminal import TerminalLines, say

    observability.logger.addHandler(TerminalLines(observability.logger.get_current_keys, say))
    for function in filter(None, os.environ.get("LOCAL_STACK_FUNCTIONS", "").split(",")):
        try:
            load_function_module(function)
        except Exception:  # noqa: S112 - each worker loads it again and reports why it fails
            continue


_preload()
