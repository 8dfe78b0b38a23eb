"""``make bench``, the local stack part: `make run` as a user starts it, over real sockets.

* a burst: 200 referred webhooks from 16 clients with keep-alive, accepted per second,
  against the same clients asking ``GET /health`` (the HTTP doorway alone) as the floor;
  every commission must then arrive once, or the figure is not printed; then 200 first
  sales of customers referred by email only (each learns its customer id);
* a stall: the affiliate API holds the forwarder's call for 8 s, and a webhook sent
  meanwhile is timed, against the same webhook with nothing stalled.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.partnero_sandbox import SandboxServer, start_sandbox
from affiliate_bridge_dev.senders import stripe_signature_header

SECRET = "whsec_bench_local_stack_fixture"  # noqa: S105 - signs benchmark events only
TOKEN = "bench-local-stack-referrals-token"  # noqa: S105
API_KEY = "bench-local-stack-api-key"
BURST, CLIENTS = 200, 16


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def local_stack() -> Iterator[tuple[str, SandboxServer]]:
    sandbox = start_sandbox(API_KEY)
    port = _free_port()
    with tempfile.TemporaryDirectory() as state:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
        env.update(
            BRIDGE_PORT=str(port),
            LOCAL_STATE_DIR=str(Path(state) / "stack"),
            STRIPE_WEBHOOK_SECRET=SECRET,
            REFERRALS_API_TOKEN=TOKEN,
            PARTNERO_API_URL=sandbox.url,
            PARTNERO_API_KEY=API_KEY,
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "affiliate_bridge_dev.local_stack"],
            cwd=state,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"{base}/health", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            yield base, sandbox
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
            sandbox.shutdown()


class Clients:
    def __init__(self, base: str) -> None:
        self.base = base
        self._local = threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        session: requests.Session = self._local.session
        return session

    def stripe(self, event: dict[str, Any]) -> float:
        body = json.dumps(event).encode()
        headers = {"content-type": "application/json", "stripe-signature": stripe_signature_header(body, SECRET)}
        began = time.perf_counter()
        answer = self.session().post(f"{self.base}/stripe", data=body, headers=headers, timeout=60)
        assert answer.status_code == 200, answer.text
        return time.perf_counter() - began

    def refer(self, n: int) -> None:
        self._refer({"customer_key": f"b{n}", "partner_key": "p", "stripe_customer_id": f"cus_b{n}"})

    def refer_by_email(self, n: int) -> None:
        self._refer({"customer_key": f"e{n}", "partner_key": "p", "email": f"e{n}@example.com"})

    def _refer(self, body: dict[str, str]) -> None:
        answer = self.session().post(
            f"{self.base}/referrals", json=body, headers={"authorization": f"Bearer {TOKEN}"}, timeout=60
        )
        assert answer.status_code == 201, answer.text

    def health(self, _: int) -> None:
        self.session().get(f"{self.base}/health", timeout=60).raise_for_status()


def _rate(pool: ThreadPoolExecutor, fn: Callable[[Any], Any], items: list[Any]) -> float:
    began = time.perf_counter()
    list(pool.map(fn, items))
    return len(items) / (time.perf_counter() - began)


def burst_and_stall() -> dict[str, float]:
    with local_stack() as (base, sandbox):
        clients = Clients(base)
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(clients.refer, range(BURST)))
            floor = _rate(pool, clients.health, list(range(BURST)))
            events = [
                s.event("invoice.paid", s.invoice(amount_paid=1000 + n, customer=f"cus_b{n}")) for n in range(BURST)
            ]
            accepted = _rate(pool, clients.stripe, events)
            _arrived_once(sandbox, BURST)
            # First sales by email: each learns its customer id in a transaction.
            list(pool.map(clients.refer_by_email, range(BURST)))
            by_email = [
                s.event(
                    "invoice.paid",
                    s.invoice(amount_paid=1000 + n, customer=f"cus_e{n}", email=f"e{n}@example.com"),
                )
                for n in range(BURST)
            ]
            accepted_by_email = _rate(pool, clients.stripe, by_email)
            _arrived_once(sandbox, 2 * BURST)
        # The stall: the API holds the next call for 8 s; webhooks keep being answered.
        clients.refer(BURST)
        quiet = statistics.median(clients.stripe(_sale(BURST)) for _ in range(5))
        requests.post(f"{sandbox.url}/_sandbox/faults", json={"delay_seconds": 8, "count": 1}, timeout=5)
        clients.stripe(_sale(BURST))
        time.sleep(1)  # the forwarder is now waiting on the stalled call
        stalled = statistics.median(clients.stripe(_sale(BURST)) for _ in range(5))
    return {
        "accepted_per_s": accepted,
        "health_per_s": floor,
        "ratio": accepted / floor,
        "accepted_by_email_per_s": accepted_by_email,
        "by_email_ratio": accepted_by_email / floor,
        "webhook_ms": quiet * 1000,
        "stalled_webhook_ms": stalled * 1000,
        "stall_ratio": stalled / quiet,
    }


def _arrived_once(sandbox: SandboxServer, expected: int) -> None:
    deadline = time.monotonic() + 120
    while len(sandbox.state.active_transactions()) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    created = [r["body"].get("key") for r in sandbox.state.requests if r["path"] == "/v1/transactions"]
    assert len(created) == len(set(created)) == expected, f"{len(set(created))} of {expected} arrived once"


def _sale(n: int) -> dict[str, Any]:
    return s.event("invoice.paid", s.invoice(amount_paid=500, customer=f"cus_b{n}"))
