"""The local stack as a user runs it: a subprocess, spoken to over real sockets.

The affiliate API here is a sandbox started by the test, i.e. "a server that is not the
stack's": the stack is configured with PARTNERO_API_URL/PARTNERO_API_KEY exactly as a
merchant would point it at the real API.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from affiliate_bridge_dev.partnero_sandbox import SandboxServer, start_sandbox
from affiliate_bridge_dev.senders import stripe_signature_header

REPO = Path(__file__).resolve().parents[2]
STRIPE_SECRET = "whsec_e2e_secret_one,whsec_e2e_secret_two"
REFERRALS_TOKEN = "e2e-referrals-token"
API_KEY = "e2e-partnero-key"
READY_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    url: str
    state_dir: Path
    stderr: list[str] = field(default_factory=list)
    started_in: float = 0.0

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@dataclass
class Harness:
    tmp: Path
    api: SandboxServer
    port: int
    stacks: list[RunningStack] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    without_env: set[str] = field(default_factory=set)  # left to .env or the defaults

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
        env.update(
            BRIDGE_PORT=str(self.port),
            STRIPE_WEBHOOK_SECRET=STRIPE_SECRET,
            REFERRALS_API_TOKEN=REFERRALS_TOKEN,
            PARTNERO_API_URL=self.api.url,
            PARTNERO_API_KEY=API_KEY,
            LOCAL_STATE_DIR=str(self.tmp / "state"),
            RETRY_BASE_SECONDS="1",
            RETRY_MAX_SECONDS="2",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        for name in self.without_env:
            env.pop(name, None)
        return env

    def start(self) -> RunningStack:
        began = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "affiliate_bridge_dev.local_stack"],
            cwd=self.tmp,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        stack = RunningStack(process, f"http://127.0.0.1:{self.port}", self.tmp / "state")
        ready = threading.Event()

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                stack.stderr.append(line.rstrip())
                if "ready on" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(READY_TIMEOUT_SECONDS):
            process.kill()
            raise AssertionError("stack not ready:\n" + "\n".join(stack.stderr[-40:]))
        stack.started_in = time.monotonic() - began
        self.stacks.append(stack)
        return stack

    # -- what a merchant's systems do -----------------------------------------------------
    def stripe(self, event: dict[str, Any] | bytes, secret: str = "whsec_e2e_secret_two") -> requests.Response:
        import json

        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        return requests.post(
            f"http://127.0.0.1:{self.port}/stripe",
            data=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": stripe_signature_header(body, secret)},
            timeout=10,
        )

    def referral(self, **body: str) -> requests.Response:
        return requests.post(
            f"http://127.0.0.1:{self.port}/referrals",
            json=body,
            headers={"Authorization": f"Bearer {REFERRALS_TOKEN}"},
            timeout=10,
        )

    def api_state(self) -> dict[str, Any]:
        state: dict[str, Any] = requests.get(self.api.url + "/_sandbox/state", timeout=5).json()
        return state

    def active(self) -> dict[str, tuple[float, str]]:
        return {
            k: (t["amount"], t["customer"])
            for k, t in self.api_state()["transactions"].items()
            if t["deleted_at"] is None
        }

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        raise AssertionError(f"condition not met in {timeout} s; affiliate API state: {self.api_state()}")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "affiliate_bridge_dev.cli", "--state-dir", str(self.tmp / "state"), *args],
            cwd=self.tmp,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    api = start_sandbox(API_KEY)
    harness = Harness(tmp=tmp_path, api=api, port=free_port())
    yield harness
    for stack in harness.stacks:
        stack.stop()
    api.shutdown()
