"""The README runs as written: every shell block tagged `run` is pasted, in order, into bash
against a local stack started as a new user starts it (default settings, embedded
sandbox API), and what the README says happens is checked against the affiliate API.

Every shell block must carry a tag (`run`, or `skip <why>`), so a new block cannot
escape the test unnoticed. The only edit made to a block is the port: the README's 3000
becomes a free one, so the test never collides with a stack someone is running.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import READY_TIMEOUT_SECONDS, REPO, free_port

README = REPO / "README.md"
TAGGED_BLOCK = re.compile(r"<!-- readme-test: (run|skip [^>]+?) -->\n *```sh\n(.*?)```", re.S)


@dataclass(frozen=True)
class Block:
    line: int
    tag: str
    script: str


def readme_blocks(text: str) -> list[Block]:
    blocks = [Block(text[: m.start()].count("\n") + 2, m.group(1), m.group(2)) for m in TAGGED_BLOCK.finditer(text)]
    untagged = text.count("```sh") - len(blocks)
    assert untagged == 0, f"{untagged} shell block(s) in README.md carry no readme-test tag"
    return blocks


def test_every_shell_block_is_tagged_and_skips_say_why() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    assert sum(b.tag == "run" for b in blocks) >= 5
    assert all(len(b.tag) > len("skip ") + 10 for b in blocks if b.tag != "run")
    with pytest.raises(AssertionError, match="no readme-test tag"):
        readme_blocks("```sh\nmake run\n```\n")


@dataclass
class NewUser:
    """A fresh folder with the project's virtualenv, as `make run` leaves it."""

    folder: Path
    port: int
    env: dict[str, str]

    def bash(self, script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script.replace(":3000", f":{self.port}")],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def sandbox(self) -> dict[str, Any]:
        endpoints = json.loads((self.folder / ".local-stack" / "endpoints.json").read_text(encoding="utf-8"))
        state: dict[str, Any] = requests.get(endpoints["sandbox_url"] + "/_sandbox/state", timeout=5).json()
        return state


@pytest.fixture
def new_user(tmp_path: Path) -> Iterator[NewUser]:
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "POWERTOOLS_", "STRIPE_", "PADDLE_", "PARTNERO_", "REFERRALS_", "RETRY_"))
    }
    port = free_port()
    env.update(BRIDGE_PORT=str(port), PYTHONUNBUFFERED="1", LOCAL_STATE_DIR=".local-stack")
    process = subprocess.Popen(
        [str(tmp_path / ".venv/bin/python"), "-m", "affiliate_bridge_dev.local_stack"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    terminal: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            terminal.append(line.rstrip())
            if "ready on" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(READY_TIMEOUT_SECONDS), "\n".join(terminal)
        yield NewUser(tmp_path, port, env)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0, "\n".join(terminal[-30:])
    assert not any("Traceback" in line for line in terminal), "\n".join(terminal)


def _active(state: dict[str, Any]) -> dict[str, tuple[float, str]]:
    return {k: (t["amount"], t["customer"]) for k, t in state["transactions"].items() if t["deleted_at"] is None}


def _settled(user: NewUser, expected_count: int) -> dict[str, tuple[float, str]]:
    deadline = time.monotonic() + 30
    active = _active(user.sandbox())
    while len(active) != expected_count and time.monotonic() < deadline:
        time.sleep(0.3)
        active = _active(user.sandbox())
    return active


def test_the_readme_walkthrough_runs_as_written(new_user: NewUser) -> None:
    outputs = []
    for block in readme_blocks(README.read_text(encoding="utf-8")):
        if block.tag != "run":
            continue
        result = new_user.bash(block.script)
        report = f"README.md block at line {block.line} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        assert result.returncode == 0, report
        assert "Traceback" not in result.stderr, report
        outputs.append(result.stdout + result.stderr)
    said = "\n".join(outputs)
    # What the README says each step does.
    assert "no sale seen for this payment yet" in said
    assert '"outcome":"unattributed"' in said and '"released_payments":["stripe-pi_' in said
    assert "redriven 1 message(s)" in said
    # Day 2: one endpoint registered twice, a missed payment backfilled once, then a
    # transaction deleted by hand is reported and put back.
    assert said.count("created we_") == 1 and "up to date" in said
    assert re.search(r"SEEN\s+NEW\s+CREDITED.*\n1\s+1\s+1\s", said) and re.search(r"\n1\s+0\s+0\s+1\s", said)
    assert "deleted outside the bridge" in said and "sent 1 correction(s)" in said and "0 drift(s)" in said
    assert "last reconcile:" in said
    active = _settled(new_user, expected_count=8)
    by_customer: dict[str, list[float]] = {}
    for key, (amount, customer) in active.items():
        by_customer.setdefault(customer, []).append(amount)
        assert not key.endswith("NoSuchPayment")
    # refunded invoice, --file event, redriven, backfilled (deleted by hand, put back)
    assert sorted(by_customer["user-2"]) == [15.0, 20.0, 36.75, 49.0]
    assert sorted(by_customer["user-4"]) == [10.0]  # parked, then released by its referral
    assert sorted(by_customer["user-3"]) == [16.66]  # (30.00 - 5.00 tax) x 20.00 kept / 30.00
    assert [k for k, (_, c) in active.items() if c == "user-2" and k.endswith("-r1")], active
    assert by_customer.get("cus_456") == [25.0]  # a checkout-only customer: key = its provider id
    partners = {c["key"]: c.get("partner") for c in new_user.sandbox()["customers"].values()}
    assert partners["user-2"] == "ben" and partners["user-4"] == "anna" and partners["user-3"] == "cleo"

    # The console the README points at, over HTTP: the same story in one page.
    page = requests.get(f"http://127.0.0.1:{new_user.port}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for shown in ("36.75 USD", "12.25 USD", "<td>ben</td><td>4</td>", "<td>anna</td><td>2</td>", "cleo"):
        assert shown in page.text, shown
    assert "reversal kept: no sale seen yet" in page.text  # pi_NoSuchPayment
    assert "The dead-letter queue is empty." in page.text  # redriven
    assert "Injected now: none" in page.text  # the one fault was used up
