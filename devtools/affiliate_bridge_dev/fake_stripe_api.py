"""A fake Stripe API for tests and the README's walkthrough: the documented subset the
bridge calls, on a real socket, speaking what the ``stripe`` SDK speaks.

* form-encoded requests with Stripe's brackets (``enabled_events[0]=..``,
  ``created[gte]=..``, ``types[]=..``), JSON answers, ``Authorization: Bearer <key>``;
* lists newest first with ``limit`` (1..100), ``starting_after`` and ``has_more``, and
  ``created[gt|gte|lt|lte]`` on every list;
* ``/v1/webhook_endpoints`` (list, create, retrieve, update, delete): the signing secret
  is in the create answer only, as Stripe does;
* ``/v1/events`` with ``type``, ``types[]`` and ``delivery_success``;
* the object lists backfill rebuilds from: invoices, charges (``expand[]=data.refunds``),
  disputes, checkout sessions;
* errors in Stripe's shape: 401 for a wrong key, 404 ``resource_missing``, 400 with the
  ``param``, and injected 429/500 answers (``fail_next``).

Events are *delivered*, as Stripe does: ``emit`` stores the event and its object and
POSTs the event, signed with each matching endpoint's secret, to every enabled endpoint
that subscribes to its type. A failed delivery (connection refused, non-2xx) leaves the
event with ``delivery_success=false``, which is what backfill and the reconciler look
for. ``POST /_fake/events`` does the same over HTTP (the README's walkthrough uses it);
``?deliver=false`` records every delivery as failed, as while the stack is down.
``python -m affiliate_bridge_dev.fake_stripe_api --port 12111`` serves one.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import string
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from affiliate_bridge_dev.senders import stripe_signature_header

LISTS = {
    "/v1/invoices": "invoice",
    "/v1/charges": "charge",
    "/v1/refunds": "refund",
    "/v1/disputes": "dispute",
    "/v1/checkout/sessions": "checkout.session",
}
UPDATABLE = {"url", "enabled_events", "description", "disabled", "metadata"}


class StripeError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.param, self.code = status, param, code

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": "api_error" if self.status >= 500 else "invalid_request_error"}
        error.update({"message": str(self), **({"param": self.param} if self.param else {})})
        if self.code:
            error["code"] = self.code
        return {"error": error}


def decode_brackets(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``a[b]=1&c[0]=x&c[]=y`` -> ``{"a": {"b": "1"}, "c": ["x", "y"]}``: Stripe's encoding,
    one level deep (what the bridge sends)."""
    decoded: dict[str, Any] = {}
    for raw_key, value in pairs:
        name, _, rest = raw_key.partition("[")
        sub = rest.split("]", 1)[0] if rest else None
        if sub is None:
            decoded[name] = value
        elif sub == "" or sub.isdigit():
            decoded.setdefault(name, []).append(value)
        else:
            decoded.setdefault(name, {})[sub] = value
    return decoded


def _id(prefix: str) -> str:
    return f"{prefix}_{''.join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))}"


@dataclass
class FakeStripeState:
    api_key: str
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> object
    secrets: dict[str, str] = field(default_factory=dict)  # endpoint id -> signing secret
    failed_deliveries: dict[str, int] = field(default_factory=dict)  # event id -> endpoints not reached
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock: int = 0  # insertion order, to sort objects created in the same second

    def add_object(self, obj: dict[str, Any]) -> None:
        with self.lock:
            self.clock += 1
            self.objects[str(obj["id"])] = {**obj, "created": obj.get("created") or int(time.time())}
            self.objects[str(obj["id"])]["_order"] = self.clock

    def emit(self, event: dict[str, Any], deliver: bool = True) -> int:
        """Store the event and its object, then deliver it; returns deliveries that failed.
        ``deliver=False``: every delivery fails, as while the receiving stack is down."""
        obj = (event.get("data") or {}).get("object")
        if isinstance(obj, dict) and obj.get("id"):
            self.add_object(obj)
        with self.lock:
            self.clock += 1
            stored = {**event, "created": event.get("created") or int(time.time()), "_order": self.clock}
            self.events[str(event["id"])] = stored
            targets = [
                (endpoint["url"], self.secrets[endpoint["id"]])
                for endpoint in self.endpoints.values()
                if endpoint["status"] == "enabled"
                and ("*" in endpoint["enabled_events"] or event["type"] in endpoint["enabled_events"])
            ]
        failed = sum(not deliver or not _deliver(url, secret, _public(stored)) for url, secret in targets)
        with self.lock:
            self.failed_deliveries[str(event["id"])] = failed
            self.events[str(event["id"])]["pending_webhooks"] = failed
        return failed

    def fail_next(self, status: int, count: int = 1) -> None:
        with self.lock:
            self.faults.extend([status] * count)


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _deliver(url: str, secret: str, event: dict[str, Any]) -> bool:
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json", "Stripe-Signature": stripe_signature_header(body, secret)}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


def _created_filter(params: dict[str, Any]) -> Any:
    bounds = params.get("created")
    if bounds is None:
        return lambda obj: True
    if not isinstance(bounds, dict):
        bounds = {"eq": bounds}
    try:
        limits = {op: int(value) for op, value in bounds.items()}
    except ValueError:
        raise StripeError(400, "Invalid integer", "created") from None
    checks = {
        "gt": lambda c, v: c > v,
        "gte": lambda c, v: c >= v,
        "lt": lambda c, v: c < v,
        "lte": lambda c, v: c <= v,
        "eq": lambda c, v: c == v,
    }
    if set(limits) - set(checks):
        raise StripeError(400, f"Received unknown parameter: created[{next(iter(set(limits) - set(checks)))}]")
    return lambda obj: all(checks[op](int(obj["created"]), v) for op, v in limits.items())


def _page(url: str, items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    try:
        limit = int(params.get("limit", 10))
    except ValueError:
        raise StripeError(400, "Invalid integer", "limit") from None
    if not 1 <= limit <= 100:
        raise StripeError(400, "This value must be between 1 and 100", "limit")
    items = sorted(items, key=lambda o: (-int(o["created"]), -int(o.get("_order", 0))))
    start = 0
    if params.get("starting_after"):
        ids = [o["id"] for o in items]
        if params["starting_after"] not in ids:
            raise StripeError(400, f"No such object: {params['starting_after']}", "starting_after")
        start = ids.index(params["starting_after"]) + 1
    chunk = items[start : start + limit]
    return {"object": "list", "url": url, "has_more": start + limit < len(items), "data": [_public(o) for o in chunk]}


class _Handler(BaseHTTPRequestHandler):
    server: FakeStripeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", _id("req"))
        self.end_headers()
        self.wfile.write(data)

    def _params(self) -> tuple[str, dict[str, Any]]:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        pairs = parse_qsl(url.query, keep_blank_values=True) + parse_qsl(raw, keep_blank_values=True)
        if url.path == "/_fake/events" and raw:
            return url.path, {"event": json.loads(raw), "deliver": "deliver=false" not in url.query}
        return url.path.rstrip("/"), decode_brackets(pairs)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization") or ""
        return header == f"Bearer {self.server.state.api_key}"

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        path, params = self._params()
        try:
            if path == "/_fake/events" and method == "POST":
                failed = state.emit(params["event"], deliver=params["deliver"])
                self._send(201, {"failed_deliveries": failed})
                return
            with state.lock:
                state.requests.append({"method": method, "path": path, "params": params})
                if state.faults:
                    status = state.faults.pop(0)
                    code = "rate_limit" if status == 429 else None
                    raise StripeError(status, f"injected fault {status}", code=code)
            if not self._authorised():
                key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                raise StripeError(401, f"Invalid API Key provided: {key[:8]}****")
            with state.lock:
                self._send(200, _route(state, method, path, params))
        except StripeError as exc:
            self._send(exc.status, exc.body())

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


def _route(state: FakeStripeState, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    if path.startswith("/v1/webhook_endpoints"):
        return _endpoints(state, method, path, params)
    if path == "/v1/events" and method == "GET":
        return _page(path, _events(state, params), params)
    if path.startswith("/v1/events/") and method == "GET":
        event = state.events.get(path.rsplit("/", 1)[1])
        if event is None:
            raise StripeError(404, f"No such event: '{path.rsplit('/', 1)[1]}'", "id", "resource_missing")
        return _public(event)
    if path in LISTS and method == "GET":
        return _page(path, _objects(state, LISTS[path], params), params)
    raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")


def _events(state: FakeStripeState, params: dict[str, Any]) -> list[dict[str, Any]]:
    created = _created_filter(params)
    wanted = params.get("types")
    if wanted is not None and (not isinstance(wanted, list) or len(wanted) > 20):
        raise StripeError(400, "types must be a list of at most 20 event types", "types")
    kind = params.get("type")
    delivered = params.get("delivery_success")
    found = []
    for event in state.events.values():
        if wanted is not None and event["type"] not in wanted:
            continue
        if kind and not (event["type"] == kind or (kind.endswith("*") and event["type"].startswith(kind[:-1]))):
            continue
        if delivered is not None and (state.failed_deliveries.get(event["id"], 0) == 0) != (delivered == "true"):
            continue
        if created(event):
            found.append(event)
    return found


def _objects(state: FakeStripeState, kind: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    created = _created_filter(params)
    found = [o for o in state.objects.values() if o.get("object") == kind and created(o)]
    for name in ("customer", "charge"):
        if params.get(name):
            found = [o for o in found if o.get(name) == params[name]]
    if kind == "charge" and "data.refunds" in (params.get("expand") or []):
        found = [{**o, "refunds": _refunds_of(state, o)} for o in found]
    return found


def _refunds_of(state: FakeStripeState, charge: dict[str, Any]) -> dict[str, Any]:
    refunds = [
        _public(o) for o in state.objects.values() if o.get("object") == "refund" and o.get("charge") == charge["id"]
    ]
    return {"object": "list", "data": refunds, "has_more": False, "url": f"/v1/charges/{charge['id']}/refunds"}


def _endpoints(state: FakeStripeState, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    endpoint_id = path.removeprefix("/v1/webhook_endpoints").strip("/")
    if not endpoint_id:
        if method == "GET":
            return _page(path, list(state.endpoints.values()), params)
        if method == "POST":
            return _create_endpoint(state, params)
        raise StripeError(405, "Method not allowed")
    endpoint = state.endpoints.get(endpoint_id)
    if endpoint is None:
        raise StripeError(404, f"No such webhook endpoint: '{endpoint_id}'", "id", "resource_missing")
    if method == "GET":
        return _public(endpoint)
    if method == "DELETE":
        del state.endpoints[endpoint_id]
        return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}
    unknown = set(params) - UPDATABLE
    if unknown:
        raise StripeError(400, f"Received unknown parameter: {sorted(unknown)[0]}", sorted(unknown)[0])
    if "disabled" in params:
        endpoint["status"] = "disabled" if params.pop("disabled") == "true" else "enabled"
    endpoint.update(params)
    return _public(endpoint)


def _create_endpoint(state: FakeStripeState, params: dict[str, Any]) -> dict[str, Any]:
    for required in ("url", "enabled_events"):
        if not params.get(required):
            raise StripeError(400, f"Missing required param: {required}.", required)
    if not isinstance(params["enabled_events"], list):
        raise StripeError(400, "Invalid array", "enabled_events")
    state.clock += 1
    endpoint = {
        "id": _id("we"),
        "object": "webhook_endpoint",
        "url": params["url"],
        "enabled_events": params["enabled_events"],
        "api_version": params.get("api_version"),
        "description": params.get("description"),
        "status": "enabled",
        "created": int(time.time()),
        "livemode": False,
        "metadata": params.get("metadata") or {},
        "_order": state.clock,
    }
    secret = "whsec_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    state.endpoints[endpoint["id"]] = endpoint
    state.secrets[endpoint["id"]] = secret
    return {**_public(endpoint), "secret": secret}


class FakeStripeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: FakeStripeState) -> None:
        super().__init__(address, _Handler)
        self.state = state

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def start_fake_stripe(api_key: str, host: str = "127.0.0.1", port: int = 0) -> FakeStripeServer:
    """Serve in a background thread; ``server.shutdown()`` stops it."""
    server = FakeStripeServer((host, port), FakeStripeState(api_key=api_key))
    threading.Thread(target=server.serve_forever, name="fake-stripe", daemon=True).start()
    return server


def main() -> None:  # pragma: no cover - a person's entry point, exercised by the README test
    parser = argparse.ArgumentParser(description="A fake Stripe API on loopback (tests, the README's walkthrough)")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--api-key", default="sk_test_local_fake_stripe_api_key")
    args = parser.parse_args()
    server = FakeStripeServer(("127.0.0.1", args.port), FakeStripeState(api_key=args.api_key))
    print(f"fake Stripe API on {server.url} (key {args.api_key})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
