"""The embedded AWS in a process of its own.

moto's server is pure Python: in the local stack's own process it shared one
interpreter lock with the HTTP doorways, the sandbox and the SQS pollers, and under a
burst that process was the bottleneck (py-spy: 80-90 % of one core, every worker
waiting on it). In its own process it has a core to itself, like the managed services
it stands in for. Its HTTP server keeps connections alive (``moto_http``). The pipe
to it carries the two things the stack asks it directly: is it up, and (for the
snapshot at stop) every message of a queue, in flight or not.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

READY_TIMEOUT_SECONDS = 30


def _serve(conn: Connection, port: int) -> None:
    import logging
    import os

    # moto's own setting, read when it is imported: no browser calls the embedded AWS,
    # and flask-cors' after-request hook was ~7 % of the server's CPU per call.
    os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")

    from affiliate_bridge_dev import moto_http, moto_speedups
    from affiliate_bridge_dev.snapshot import moto_queue_messages

    moto_speedups.apply()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    server = moto_http.serve(port)
    conn.send("ready")
    while True:
        try:
            command, argument = conn.recv()
        except (EOFError, OSError):
            break  # the stack is gone
        if command == "stop":
            break
        try:
            conn.send(("ok", moto_queue_messages(argument)))
        except Exception as exc:  # a lookup that fails is the caller's answer, not a crash
            conn.send(("error", repr(exc)))
    server.shutdown()


class MotoProcess:
    def __init__(self, port: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, port), name="embedded-aws", daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(READY_TIMEOUT_SECONDS) or self._conn.recv() != "ready":
            self._process.kill()
            raise RuntimeError(f"the embedded AWS (moto) did not start on port {port}")
        self.url = f"http://127.0.0.1:{port}"

    def queue_messages(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message of a queue, visible or not, in queue order (see snapshot.py)."""
        self._conn.send(("queue_messages", queue_url))
        status, value = self._conn.recv()
        if status != "ok":
            raise LookupError(value)
        messages: list[dict[str, Any]] = value
        return messages

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(("stop", None))
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
