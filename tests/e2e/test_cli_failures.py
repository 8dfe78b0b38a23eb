"""Expected failures, as a new user meets them: one clear line, a non-zero exit, no traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port

CLI = [sys.executable, "-m", "affiliate_bridge_dev.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=tmp_path, env=_env(**env), capture_output=True, text=True, timeout=60, check=False
    )


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    # "-> POST url" is send's progress line, printed before it knows the answer.
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("-> ")]
    assert len(lines) == 1, result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    return lines[0]


@pytest.mark.parametrize("command", [["referrals", "list"], ["explain", "evt_1"], ["dlq", "list"], ["send", "stripe"]])
def test_no_local_stack(tmp_path: Path, command: list[str]) -> None:
    _one_line_error(_run(tmp_path, *command), "no local stack running", "make run")


def _stale_endpoints(tmp_path: Path, pid: int) -> None:
    state = tmp_path / ".local-stack"
    state.mkdir()
    closed = free_port()
    endpoints = {
        "aws_endpoint_url": f"http://127.0.0.1:{closed}",
        "table_name": "affiliate-bridge-local",
        "queue_url": f"http://127.0.0.1:{closed}/000000000000/q.fifo",
        "dead_letter_queue_url": f"http://127.0.0.1:{closed}/000000000000/dlq.fifo",
        "bridge_url": f"http://127.0.0.1:{closed}",
        "pid": pid,
    }
    (state / "endpoints.json").write_text(json.dumps(endpoints), encoding="utf-8")


@pytest.mark.parametrize("command", [["referrals", "list"], ["explain", "evt_1"], ["dlq", "list"]])
def test_endpoints_left_by_a_stack_that_died(tmp_path: Path, command: list[str]) -> None:
    dead = subprocess.Popen(["true"])  # a pid that no longer runs
    dead.wait()
    _stale_endpoints(tmp_path, dead.pid)
    _one_line_error(_run(tmp_path, *command), "is not running", "make run")


@pytest.mark.parametrize(
    "command",
    [
        ["referrals", "list"],
        ["explain", "evt_1"],
        ["dlq", "list"],
        ["send", "stripe"],
        ["referrals", "add", "--customer-key", "u", "--partner-key", "p"],
    ],
)
def test_endpoints_naming_ports_nobody_listens_on(tmp_path: Path, command: list[str]) -> None:
    _stale_endpoints(tmp_path, os.getpid())  # a live pid: only the connection can tell
    began = time.monotonic()
    _one_line_error(_run(tmp_path, *command), "cannot reach", "make run")
    assert time.monotonic() - began < 30


def test_a_missing_file(tmp_path: Path) -> None:
    result = _run(tmp_path, "send", "stripe", "--url", "http://127.0.0.1:9/stripe", "--file", "my-event.json")
    _one_line_error(result, "my-event.json", "No such file")


def test_a_deployed_stack_without_region_or_credentials(tmp_path: Path) -> None:
    _one_line_error(_run(tmp_path, "--stack", "affiliate-bridge", "dlq", "list"), "no AWS region", "--region")
    no_credentials = _run(tmp_path, "--stack", "affiliate-bridge", "--region", "eu-west-1", "explain", "evt_1")
    _one_line_error(no_credentials, "no AWS credentials", "AWS_PROFILE")


def test_output_piped_into_a_reader_that_stops(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*CLI, "send", "stripe", "--print"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head -0`: the reader is gone before the first write
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr


def test_make_run_on_a_busy_port_says_so_and_exits(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        began = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "affiliate_bridge_dev.local_stack"],
            cwd=tmp_path,
            env=_env(BRIDGE_PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert time.monotonic() - began < 30
    line = _one_line_error(result, f"port {port}", "BRIDGE_PORT")
    assert result.returncode == 1 and "make run" in line
