"""Lambda execution environments on one machine: a pool of worker processes per function.

In the cloud each concurrent invocation runs in its own execution environment (a
process that loaded the handler once, at its cold start, and then serves one request
at a time). The local stack does the same, so concurrent deliveries meet the races they
meet in the cloud, and a forwarder waiting on a stalled API holds only its own worker:

* a pool grows on demand, one worker per concurrent invocation, up to the function's
  concurrency (from template.yaml: ``WebhookReservedConcurrency``,
  ``ForwarderMaxConcurrency``); past that an invocation waits for a free worker (Lambda
  would throttle a function URL with a 429; the local stack queues instead, so a burst
  from a test client is not refused);
* workers are forked from a fork server that has already imported and loaded every
  handler module (``function_worker``), so a new environment is ready in milliseconds
  and the handler's module-level setup has run exactly as at a cold start;
* in the cloud a function's environments get their own CPU; here they share the
  machine's cores, so a pool marked ``background`` (the forwarder, which drains a queue
  and has no caller waiting) runs at a lower CPU priority: a burst of webhooks is
  answered first and the forwarding catches up as soon as the cores are free, instead
  of each webhook waiting on a forwarder it would never share a core with in AWS;
* a handler that raises answers as Lambda does (the function URL gets a 502, the event
  source mapping fails the batch); one that runs past its timeout, or a worker that
  dies, is killed and replaced, and that invocation fails the same way.

Secrets that ``register`` writes to .env while the stack runs are handed to the
workers with each invocation (``env_overrides``), so no worker serves a stale one.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from affiliate_bridge.errors import ConfigurationError
from affiliate_bridge_dev import function_worker

# Lambda's own allowance for a cold start (the init phase) comes on top of the timeout.
COLD_START_SECONDS = 10
BACKGROUND_NICENESS = 10  # a background pool's workers yield the CPU to everything else


class InvocationFailed(RuntimeError):
    """The handler raised, timed out, or its worker died: Lambda reports it as an error."""


@dataclass
class _Worker:
    process: Any  # multiprocessing.Process (forkserver context)
    conn: Connection

    def call(self, request: tuple[Any, ...], timeout_seconds: float) -> Any:
        try:
            self.conn.send(request)
            if not self.conn.poll(timeout_seconds):
                self.kill()
                raise InvocationFailed(f"Task timed out after {timeout_seconds:.2f} seconds")
            status, value = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            self.kill()
            raise InvocationFailed(f"the execution environment died ({type(exc).__name__})") from None
        if status != "ok":
            raise InvocationFailed(str(value))
        return value

    @property
    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.kill()


def _wait_until_loaded(function: str, conn: Connection, process: Any, timeout_seconds: float) -> None:
    """A worker's first word says whether its handler loaded (see function_worker.serve)."""
    try:
        ready = conn.poll(timeout_seconds)
        status, detail = conn.recv() if ready else ("load_error", f"no answer in {timeout_seconds:.0f} s")
    except (EOFError, OSError):
        status, detail = "load_error", "the execution environment died while loading"
    if status == "ready":
        return
    process.kill()
    process.join(timeout=5)
    conn.close()
    if status == "configuration_error":
        raise ConfigurationError(detail)
    raise InvocationFailed(f"{function} did not load:\n{detail}")


def worker_context(preload: Mapping[str, str]) -> Any:
    """A forkserver context whose server loads every handler before it forks workers.

    ``preload`` goes to the fork server's environment (the log file, the functions to
    load); the fork server starts with the first worker and inherits ``os.environ``
    as it is then, so set every handler setting before that."""
    import os

    os.environ.update(preload)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["affiliate_bridge_dev.function_worker_preload"])
    return context


class FunctionPool:
    def __init__(
        self,
        context: Any,
        function: str,
        max_workers: int,
        timeout_seconds: float,
        env_overrides: Callable[[], Mapping[str, str]] = dict,
        background: bool = False,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"{function}: a pool needs at least one worker, not {max_workers}")
        self.function = function
        self.max_workers = max_workers
        self.timeout_seconds = timeout_seconds
        self._context = context
        self._env_overrides = env_overrides
        self._niceness = BACKGROUND_NICENESS if background else 0
        self._idle: list[_Worker] = []
        self._count = 0  # workers alive or starting
        self._cold_starts = 0
        self._ready = threading.Condition()
        self._closed = False

    def warm(self, workers: int = 1) -> None:
        """Start ``workers`` environments now (the first request then skips a cold start)."""
        started = []
        for _ in range(min(workers, self.max_workers)):
            with self._ready:
                self._count += 1
            started.append(self._spawn())
        with self._ready:
            self._idle.extend(started)
            self._ready.notify_all()

    def _spawn(self) -> _Worker:
        try:
            parent, child = self._context.Pipe()
            process = self._context.Process(
                target=function_worker.serve,
                args=(child, self.function, self._niceness),
                name=f"{self.function}-env",
                daemon=True,
            )
            process.start()
            child.close()
            _wait_until_loaded(self.function, parent, process, self.timeout_seconds + COLD_START_SECONDS)
        except BaseException:
            with self._ready:
                self._count -= 1
                self._ready.notify()
            raise
        self._cold_starts += 1
        return _Worker(process, parent)

    def _acquire(self) -> _Worker:
        with self._ready:
            while True:
                if self._closed:
                    raise InvocationFailed(f"{self.function}: the local stack is stopping")
                if self._idle:
                    return self._idle.pop()
                if self._count < self.max_workers:
                    self._count += 1
                    break
                self._ready.wait()
        return self._spawn()

    def _release(self, worker: _Worker) -> None:
        with self._ready:
            if worker.alive and not self._closed:
                self._idle.append(worker)
            else:
                self._count -= 1
                if self._closed:
                    worker.stop()
            self._ready.notify()

    def invoke(self, event: dict[str, Any], context_args: tuple[Any, ...] = ()) -> Any:
        """Run the handler on ``event`` in a free environment; raises InvocationFailed."""
        worker = self._acquire()
        try:
            return worker.call((event, context_args, dict(self._env_overrides())), self.timeout_seconds)
        finally:
            self._release(worker)

    @property
    def busy(self) -> bool:
        """An invocation is running (one waiting for an environment means all are)."""
        with self._ready:
            return self._count > len(self._idle)

    @property
    def stats(self) -> dict[str, int]:
        with self._ready:
            return {"workers": self._count, "idle": len(self._idle), "cold_starts": self._cold_starts}

    def close(self) -> None:
        with self._ready:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._ready.notify_all()
        for worker in idle:
            worker.stop()
