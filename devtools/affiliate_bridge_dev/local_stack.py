"""``make run``: the deployed topology on loopback, no AWS account needed.

* moto's server is the embedded AWS, holding the table and queues of template.yaml;
* one HTTP server turns ``POST /stripe``, ``/paddle`` and ``/referrals`` into real function URL
  events (payload 2.0) for the same handler code Lambda runs;
* a poller drives the forwarder like Lambda's SQS event source mapping;
* the affiliate API is the real one when PARTNERO_API_KEY is set, otherwise a local
  sandbox that shows what it received.

Each function runs in its own pool of worker processes, one per concurrent invocation up
to the function's concurrency in template.yaml, as Lambda runs execution environments
(see function_pool.py): concurrent deliveries race as they do in the cloud, and a
forwarder waiting on a stalled API holds only its own worker. Ctrl-C stops cleanly and
writes a snapshot that the next start restores (see snapshot.py).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from affiliate_bridge.errors import ConfigurationError
from affiliate_bridge_dev.function_pool import InvocationFailed
from affiliate_bridge_dev.lambda_events import function_url_event
from affiliate_bridge_dev.local_config import LocalConfig, load_config, read_dotenv
from affiliate_bridge_dev.targets import ENDPOINTS_FILE
from affiliate_bridge_dev.terminal import request_line, say

ROUTES = {
    "/stripe": "stripe_webhook",
    "/paddle": "paddle_webhook",
    "/referrals": "referrals",
    "/partnero": "referrals",  # the platform's customer.* webhooks
}
SANDBOX_API_KEY = "sandbox-partnero-key"
CLI_SETTINGS = (
    "STRIPE_WEBHOOK_SECRET",
    "PADDLE_WEBHOOK_SECRET",
    "REFERRALS_API_TOKEN",
    "PARTNERO_WEBHOOK_SECRET",
    "CUSTOMER_KEY_FIELD",
    "PARTNER_KEY_FIELD",
    "PARTNERO_API_URL",
    "PARTNERO_API_KEY",
)
# Secrets `register` may write to .env while the stack runs: picked up within a second.
RELOADABLE = ("STRIPE_WEBHOOK_SECRET", "PADDLE_WEBHOOK_SECRET")
SECRET_SETTINGS = frozenset({*CLI_SETTINGS[:4], "PARTNERO_API_KEY", "STRIPE_API_KEY", "PADDLE_API_KEY"})
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # a function URL's own request limit
# Fed by a queue, no caller waiting: their workers run at a lower CPU priority (see
# function_pool), as in AWS they would not share cores with the webhooks.
QUEUE_FED_FUNCTIONS = frozenset({"forwarder"})


_say = say  # every line a person reads goes to stderr; stdout is the log file


class LocalStack:
    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.pools: dict[str, Any] = {}
        self.pollers: list[threading.Thread] = []

    # -- start -------------------------------------------------------------------------
    def start(self) -> None:
        import warnings

        from affiliate_bridge_dev.moto_process import MotoProcess

        warnings.filterwarnings("ignore", message="No application metrics to publish")
        # Claim the ports before any thread starts: a busy one then fails in one line,
        # instead of a traceback from a thread while the others keep the process alive.
        self.http = _bind(ThreadingHTTPServer, ("127.0.0.1", self.config.port), _make_http_handler(self), "BRIDGE_PORT")
        for name in ("MOTO_PORT", "SANDBOX_PORT"):
            if int(self.config[name]):
                _bind(socket.create_server, ("127.0.0.1", int(self.config[name])), None, name).close()
        self._send_logs_to_file()

        moto_port = int(self.config["MOTO_PORT"]) or _free_port()
        self.moto = MotoProcess(moto_port)  # its own process: see moto_process.py
        self.aws_endpoint = self.moto.url
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.aws_endpoint,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        )
        os.environ.pop("AWS_PROFILE", None)

        import boto3

        from affiliate_bridge_dev.template_resources import create_resources

        self.dynamodb = boto3.client("dynamodb")
        self.sqs = boto3.client("sqs")
        self.resources = create_resources(self.dynamodb, self.sqs)
        self.sandbox = None
        if not self.config.uses_real_affiliate_api:
            from affiliate_bridge_dev.partnero_sandbox import start_sandbox

            self.sandbox = start_sandbox(SANDBOX_API_KEY, port=int(self.config["SANDBOX_PORT"]))
        self._restore()
        handler_env = {
            **{k: v for k, v in self.config.values.items() if k not in ("MOTO_PORT", "SANDBOX_PORT")},
            "TABLE_NAME": self.resources.table_name,
            "QUEUE_URL": self.resources.queue_url,
            "DEAD_LETTER_QUEUE_URL": self.resources.dead_letter_queue_url,
        }
        if self.sandbox is not None:
            handler_env.update(PARTNERO_API_URL=self.sandbox.url, PARTNERO_API_KEY=SANDBOX_API_KEY)
        os.environ.update(handler_env)
        self.handler_env = handler_env

        self._start_pools()
        from affiliate_bridge_dev.event_source_mapping import EventSourceMapping

        forwarder = self.pools["forwarder"]
        self.mapping = EventSourceMapping(
            self.sqs,
            self.resources.queue_url,
            lambda event, context: forwarder.invoke(event, (context.function_name, forwarder.timeout_seconds)),
            batch_size=self.resources.batch_size,
            function_timeout_seconds=int(forwarder.timeout_seconds),
            yield_to=lambda: any(pool.busy for name, pool in self.pools.items() if name != "forwarder"),
        )
        # Lambda's pollers for a FIFO queue: up to MaximumConcurrency batches at once, never
        # two of one message group (SQS holds a group back while a batch of it is in flight).
        for index in range(forwarder.max_workers):
            poller = threading.Thread(
                target=self.mapping.run_forever, args=(self.stop_event,), name=f"sqs-poller-{index}", daemon=True
            )
            poller.start()
            self.pollers.append(poller)
        self.dotenv_mtime = _mtime(self.config.dotenv_path)
        threading.Thread(target=self._watch_dotenv, name="dotenv-watch", daemon=True).start()
        self.http.daemon_threads = True
        self._write_endpoints()
        self._banner()

    @property
    def log_path(self) -> Path:
        return self.config.state_dir / "bridge.log"

    def _send_logs_to_file(self) -> None:
        """The handlers' JSON log lines and EMF metric blobs, as CloudWatch would get
        them, go to a file; Powertools binds its handler to sys.stdout when the handler
        modules are imported, which happens after this."""
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        sys.stdout = open(self.log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the process

    def _start_pools(self) -> None:
        """One pool of execution environments per function, each warmed with one."""
        from affiliate_bridge_dev.function_pool import FunctionPool, worker_context
        from affiliate_bridge_dev.template_resources import function_limits

        names = sorted({*ROUTES.values(), "forwarder"})
        limits = function_limits()
        context = worker_context({"LOCAL_STACK_LOG": str(self.log_path), "LOCAL_STACK_FUNCTIONS": ",".join(names)})
        for name in names:
            self.pools[name] = FunctionPool(
                context,
                name,
                limits[name].concurrency,
                limits[name].timeout_seconds,
                self._reloaded_secrets,
                background=name in QUEUE_FED_FUNCTIONS,
            )
            self.pools[name].warm()

    def health(self) -> dict[str, Any]:
        """``GET /health``: ready, and each function's execution environments (how many
        are running, how many idle, how many cold starts so far)."""
        return {"status": "ready", "environments": {name: pool.stats for name, pool in self.pools.items()}}

    def _reloaded_secrets(self) -> dict[str, str]:
        """What the .env watcher took up since the workers started (see _watch_dotenv)."""
        return {name: os.environ[name] for name in RELOADABLE if name in os.environ}

    def console_page(self) -> str:
        from affiliate_bridge_dev import console

        data = console.gather(
            self.dynamodb, self.resources.table_name, self.sqs, self.resources.dead_letter_queue_url, self.sandbox
        )
        return console.render(data)

    # -- state across restarts ----------------------------------------------------------
    @property
    def snapshot_path(self) -> Path:
        return self.config.state_dir / "snapshot.json"

    def _restore(self) -> None:
        from affiliate_bridge_dev.snapshot import load_snapshot

        snapshot = load_snapshot(
            self.snapshot_path,
            self.dynamodb,
            self.sqs,
            self.resources.table_name,
            self.resources.queue_url,
            self.resources.dead_letter_queue_url,
        )
        if snapshot is None:
            return
        if self.sandbox is not None and snapshot.get("sandbox"):
            self.sandbox.state.restore(snapshot["sandbox"])
        _say(
            f"restored {len(snapshot['items'])} table items, {len(snapshot['queue'])} queued and "
            f"{len(snapshot['dead_letters'])} dead-lettered messages from {self.snapshot_path}"
        )

    def _write_endpoints(self) -> None:
        """Where the CLI finds this stack (``affiliate-bridge --local``)."""
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        endpoints = {
            "aws_endpoint_url": self.aws_endpoint,
            "table_name": self.resources.table_name,
            "queue_url": self.resources.queue_url,
            "dead_letter_queue_url": self.resources.dead_letter_queue_url,
            "bridge_url": f"http://127.0.0.1:{self.config.port}",
            "sandbox_url": self.sandbox.url if self.sandbox else None,
            "pid": os.getpid(),
            # What this stack verifies with, so the CLI signs with it (see targets.py).
            "config": {name: os.environ.get(name, "") for name in CLI_SETTINGS},
            # The handlers' other settings, so backfill reads events exactly as they do.
            "settings": {k: v for k, v in self.handler_env.items() if k not in SECRET_SETTINGS},
            "dotenv_path": str(self.config.dotenv_path.resolve()),
        }
        path = self.endpoints_path
        path.touch(mode=0o600)
        path.chmod(0o600)  # it names local secrets
        path.write_text(json.dumps(endpoints, indent=2), encoding="utf-8")

    def _watch_dotenv(self) -> None:
        """`register` stores a new signing secret in .env: take it up without a restart
        (the handlers read their secrets per request), unless the environment sets it."""
        while not self.stop_event.wait(0.5):
            mtime = _mtime(self.config.dotenv_path)
            if mtime == self.dotenv_mtime:
                continue
            self.dotenv_mtime = mtime
            fresh = read_dotenv(self.config.dotenv_path)
            changed = [
                name
                for name in RELOADABLE
                if self.config.sources.get(name) != "env" and fresh.get(name) and fresh[name] != os.environ.get(name)
            ]
            for name in changed:
                os.environ[name] = fresh[name]
            if changed:
                self._write_endpoints()
                _say(f"took up {', '.join(changed)} from {self.config.dotenv_path} (no restart needed)")

    @property
    def endpoints_path(self) -> Path:
        return self.config.state_dir / ENDPOINTS_FILE

    def _banner(self) -> None:
        base = f"http://127.0.0.1:{self.config.port}"
        api = (
            self.sandbox.url + "  (local sandbox)" if self.sandbox else self.config["PARTNERO_API_URL"] + "  (real API)"
        )
        rows = [
            ("Console", f"{base}/  (payments, the API's holdings, dead letters: open it in a browser)"),
            ("Stripe webhooks", f"POST {base}/stripe"),
            ("Paddle webhooks", f"POST {base}/paddle"),
            ("Referrals", f"POST {base}/referrals  (Authorization: Bearer <REFERRALS_API_TOKEN>)"),
            ("Platform webhooks", f"POST {base}/partnero  (Signature: HMAC of the body with PARTNERO_WEBHOOK_SECRET)"),
            ("Affiliate API", api),
            ("Embedded AWS", f"{self.aws_endpoint}  (moto; table {self.resources.table_name})"),
            ("Structured logs", f"{self.log_path}  (JSON lines and metrics, as CloudWatch gets them)"),
        ]
        for name in CLI_SETTINGS[:4]:  # the four secrets
            rows.append((name, f"{self.config[name]}  ({self.config.sources[name]})"))
        width = max(len(label) for label, _ in rows) + 2
        for label, value in rows:
            _say(f"{label:<{width}}{value}")
        _say("CLI: .venv/bin/affiliate-bridge --help  (send test events, referrals, explain, dlq; signs with these)")
        _say(f"ready on {base} (Ctrl-C stops and keeps state in {self.config.state_dir}/)")

    # -- serve and stop -----------------------------------------------------------------
    def serve(self) -> None:
        server_thread = threading.Thread(target=self.http.serve_forever, name="http", daemon=True)
        server_thread.start()
        self.stop_event.wait()
        self.shutdown()

    def shutdown(self) -> None:
        _say("stopping: HTTP server, then the poller, then a snapshot")
        self.endpoints_path.unlink(missing_ok=True)  # the CLI then says no stack is running
        self.http.shutdown()
        self.http.server_close()
        self.stop_event.set()
        for poller in self.pollers:
            poller.join(timeout=35)  # a batch in flight finishes (the forwarder's timeout is 30 s)
        for pool in self.pools.values():
            pool.close()
        from affiliate_bridge_dev.snapshot import save_snapshot

        # Nothing runs a handler any more: the state is still.
        counts = save_snapshot(
            self.snapshot_path,
            self.dynamodb,
            self.sqs,
            self.resources.table_name,
            self.resources.queue_url,
            self.resources.dead_letter_queue_url,
            self.sandbox.state.export() if self.sandbox else None,
            read_queue=self.moto.queue_messages,
        )
        _say(f"saved {counts['items']} items, {counts['queued']} queued, {counts['dead_letters']} dead letters")
        if self.sandbox is not None:
            self.sandbox.shutdown()
        self.moto.stop()
        _say("stopped")


class PortBusy(RuntimeError):
    pass


def _bind(factory: Any, address: tuple[str, int], handler: Any, setting: str) -> Any:
    try:
        return factory(address, handler) if handler is not None else factory(address)
    except OSError as exc:
        raise PortBusy(
            f"port {address[1]} ({setting}) is not free: {exc.strerror or exc}. Is another `make run` going?"
            f" Stop it, or pick another port: {setting}={address[1] + 1} make run"
        ) from None


def _refused_length(header: str | None, limit: int) -> tuple[int, bytes, dict[str, str]] | None:
    """What a function URL answers for a body it will not read (nothing when it will)."""
    json_type = {"content-type": "application/json"}
    value = (header or "0").strip()
    if not value.isdigit():
        return 400, b'{"error":"bad_content_length"}', json_type
    if int(value) > limit:
        return 413, b'{"error":"body_too_large"}', json_type
    return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Handler(BaseHTTPRequestHandler):
    """Function URL doorways for the handlers, the console, and /health."""

    stack: LocalStack  # set by _make_http_handler
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a routed request gets its own readable line (terminal.request_line),
        and console page loads (every few seconds) would drown it."""

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # see partnero_sandbox

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _invoke(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        query = self.path.split("?", 1)[1] if "?" in self.path else ""
        if path == "/health":
            self._reply(200, json.dumps(self.stack.health()).encode(), {"content-type": "application/json"})
            return
        if path in ("", "/console", "/console/faults"):
            self._console(path, query)
            return
        name = ROUTES.get(path)
        if name is None:
            self._reply(404, b'{"error":"not_found"}', {"content-type": "application/json"})
            return
        body = self._body(MAX_REQUEST_BYTES)
        if body is None:
            return
        began = time.monotonic()
        event = function_url_event(
            self.command, path, body, dict(self.headers.items()), query=query, source_ip=self.client_address[0]
        )
        pool = self.stack.pools[name]
        try:
            response = pool.invoke(event, (name, pool.timeout_seconds))
        except InvocationFailed:
            # A function URL's answer when the function errs (the worker logged why).
            response = {"statusCode": 502, "body": '{"Message":"Internal Server Error"}'}
        payload = response.get("body") or ""
        raw = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        status = int(response.get("statusCode", 200))
        self._reply(status, raw, dict(response.get("headers") or {}))
        _say(request_line(path, body, status, raw, time.monotonic() - began))

    def _body(self, limit: int) -> bytes | None:
        """The request body, or None once refused: a Content-Length that is not a
        number, or over ``limit``, is answered here and the connection closed."""
        refusal = _refused_length(self.headers.get("Content-Length"), limit)
        if refusal is not None:
            self._reply(*refusal)
            self.close_connection = True
            return None
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _console(self, path: str, query: str) -> None:
        from affiliate_bridge_dev.console import respond

        body = self._body(10_000)
        if body is None:
            return
        accept = self.headers.get("Accept") or ""
        self._reply(*respond(self.command, path, query, accept, body, self.stack.console_page, self.stack.sandbox))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _invoke  # noqa: N815 - http.server names


def _make_http_handler(stack: LocalStack) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"stack": stack})


def main() -> None:
    config = load_config()
    stack = LocalStack(config)
    started = time.monotonic()
    try:
        stack.start()
    except ConfigurationError as exc:
        # The same check a Lambda container makes at start; say it in one line.
        print(f"make run: configuration error: {exc}", file=sys.stderr, flush=True)
        os._exit(2)  # threads (moto, sandbox) may already run; do not wait for them
    except PortBusy as exc:
        print(f"make run: {exc}", file=sys.stderr, flush=True)
        os._exit(1)
    _say(f"started in {time.monotonic() - started:.1f} s")

    def stop(signum: int, frame: Any) -> None:
        stack.stop_event.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stack.serve()


if __name__ == "__main__":
    main()
