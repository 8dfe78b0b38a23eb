"""A fake Paddle Billing API for tests and the README's walkthrough: the documented subset
the bridge calls, on a real socket.

* JSON in and out, ``Authorization: Bearer <key>``; answers in Paddle's envelope
  (``data``, ``meta.request_id``), errors as ``error.type/code/detail`` (403 for a wrong
  key, 404 ``not_found``, 400 ``invalid_field``) and injected 429/500 (``fail_next``);
* cursor pages (``after``, ``per_page`` up to 200, ``meta.pagination.next/has_more``),
  ascending by id;
* ``/notification-settings`` (list, create, get, patch, delete), each with its
  ``endpoint_secret_key`` on every read, as Paddle does;
* ``/events`` (``event_type`` filter), ``/notifications`` (``status``,
  ``notification_setting_id``, ``from``) and ``POST /notifications/{id}/replay``.

Notifications are *delivered*: ``emit`` stores an event and POSTs it, signed
(``Paddle-Signature``) with each subscribed destination's secret key. A delivery that
fails leaves the notification ``failed`` (real Paddle retries first, as ``needs_retry``;
the fake goes straight to the end state); a replay delivers again as a new notification.
``POST /_fake/events`` (``{"event_type", "data"}``) emits over HTTP;
``python -m affiliate_bridge_dev.fake_paddle_api --port 12112`` serves one.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from affiliate_bridge_dev.senders import paddle_signature_header

_counter = itertools.count(1)


def _id(prefix: str) -> str:
    """Time-ordered, as Paddle's ids are: ascending id order is creation order."""
    return f"{prefix}_01{next(_counter):012d}{uuid.uuid4().hex[:10]}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


class PaddleError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code = status, code


@dataclass
class FakePaddleState:
    api_key: str
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def emit(self, event_type: str, data: dict[str, Any], occurred_at: str | None = None) -> dict[str, Any]:
        """Store an event and deliver it to every active destination subscribed to it."""
        with self.lock:
            event_id = _id("evt")
            event = {"event_id": event_id, "event_type": event_type, "occurred_at": occurred_at or _now(), "data": data}
            self.events[event_id] = event
            subscribed = [
                s
                for s in self.settings.values()
                if s["active"] and event_type in {e["name"] for e in s["subscribed_events"]}
            ]
            created = [self._notification(event, setting, "event") for setting in subscribed]
        for notification in created:
            self.deliver(notification["id"])
        return event

    def _notification(self, event: dict[str, Any], setting: dict[str, Any], origin: str) -> dict[str, Any]:
        notification_id = _id("ntf")
        notification = {
            "id": notification_id,
            "type": event["event_type"],
            "status": "not_attempted",
            "payload": {**event, "notification_id": notification_id},
            "occurred_at": event["occurred_at"],
            "delivered_at": None,
            "replayed_at": None,
            "origin": origin,
            "last_attempt_at": None,
            "retry_at": None,
            "times_attempted": 0,
            "notification_setting_id": setting["id"],
        }
        self.notifications[notification_id] = notification
        return notification

    def deliver(self, notification_id: str) -> bool:
        with self.lock:
            notification = self.notifications[notification_id]
            setting = self.settings.get(notification["notification_setting_id"])
        ok = setting is not None and _post(
            setting["destination"], setting["endpoint_secret_key"], notification["payload"]
        )
        with self.lock:
            notification["times_attempted"] += 1
            notification["last_attempt_at"] = _now()
            notification["status"] = "delivered" if ok else "failed"
            notification["delivered_at"] = _now() if ok else None
        return ok

    def replay(self, notification_id: str) -> str:
        with self.lock:
            original = self.notifications.get(notification_id)
            if original is None:
                raise PaddleError(404, "not_found", f"Notification {notification_id} not found")
            event = {k: v for k, v in original["payload"].items() if k != "notification_id"}
            setting = self.settings[original["notification_setting_id"]]
            replayed = self._notification(event, setting, "replay")
            original["replayed_at"] = _now()
        self.deliver(replayed["id"])
        return str(replayed["id"])

    def fail_next(self, status: int, count: int = 1) -> None:
        with self.lock:
            self.faults.extend([status] * count)


def _post(url: str, secret: str, payload: dict[str, Any]) -> bool:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Paddle-Signature": paddle_signature_header(body, secret)}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


EVENT_GROUPS = {"transaction": "Transaction", "adjustment": "Adjustment", "customer": "Customer"}


def _subscribed(names: Any) -> list[dict[str, Any]]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise PaddleError(400, "invalid_field", "subscribed_events must be a list of event type names")
    return [
        {"name": n, "description": n, "group": EVENT_GROUPS.get(n.split(".")[0], "Other"), "available_versions": [1]}
        for n in names
    ]


class _Handler(BaseHTTPRequestHandler):
    server: FakePaddleServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, exc: PaddleError) -> None:
        body = {
            "error": {
                "type": "request_error" if exc.status < 500 else "api_error",
                "code": exc.code,
                "detail": str(exc),
                "documentation_url": f"https://developer.paddle.com/v1/errors/shared/{exc.code}",
            },
            "meta": {"request_id": str(uuid.uuid4())},
        }
        self._send(exc.status, body, {"Retry-After": "1"} if exc.status == 429 else None)

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length)) if length else {}
        except json.JSONDecodeError:
            self._error(PaddleError(400, "bad_request", "Invalid JSON"))
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/")
        try:
            if path == "/_fake/events" and method == "POST":
                self._send(201, {"data": state.emit(str(body["event_type"]), dict(body["data"]))})
                return
            with state.lock:
                state.requests.append({"method": method, "path": path, "query": query, "body": body})
                if state.faults:
                    status = state.faults.pop(0)
                    raise PaddleError(status, "too_many_requests" if status == 429 else "internal_error", "injected")
            self._authorise()
            if path.startswith("/notifications/") and path.endswith("/replay") and method == "POST":
                new_id = state.replay(path.split("/")[2])
                self._send(202, {"data": {"notification_id": new_id}, "meta": {"request_id": str(uuid.uuid4())}})
                return
            with state.lock:
                status, data, pagination = _route(state, method, path, query, body, self.server.url)
            meta: dict[str, Any] = {"request_id": str(uuid.uuid4())}
            if pagination is not None:
                meta["pagination"] = pagination
            self._send(status, {"data": data, "meta": meta} if status != 204 else None)
        except PaddleError as exc:
            self._error(exc)

    def _authorise(self) -> None:
        header = self.headers.get("Authorization")
        if not header:
            raise PaddleError(401, "authentication_missing", "Authentication header missing")
        if header != f"Bearer {self.server.state.api_key}":
            raise PaddleError(403, "forbidden", "You aren't permitted to perform this request.")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


Answer = tuple[int, Any, dict[str, Any] | None]


def _route(state: FakePaddleState, method: str, path: str, query: dict[str, str], body: Any, base: str) -> Answer:
    if path.startswith("/notification-settings"):
        return _settings(state, method, path, body)
    if path == "/events" and method == "GET":
        types = set(query["event_type"].split(",")) if query.get("event_type") else None
        events = [e for e in state.events.values() if types is None or e["event_type"] in types]
        return _page(events, "event_id", query, base + path)
    if path == "/notifications" and method == "GET":
        return _page(_notifications(state, query), "id", query, base + path)
    raise PaddleError(404, "not_found", f"Requested resource {path} not found")


def _notifications(state: FakePaddleState, query: dict[str, str]) -> list[dict[str, Any]]:
    found = list(state.notifications.values())
    if query.get("status"):
        found = [n for n in found if n["status"] in query["status"].split(",")]
    if query.get("notification_setting_id"):
        found = [n for n in found if n["notification_setting_id"] in query["notification_setting_id"].split(",")]
    if query.get("from"):
        found = [n for n in found if n["occurred_at"] >= query["from"]]
    return found


def _page(items: list[dict[str, Any]], id_field: str, query: dict[str, str], url: str) -> Answer:
    try:
        per_page = int(query.get("per_page", 50))
    except ValueError:
        raise PaddleError(400, "invalid_field", "per_page must be a number") from None
    if not 1 <= per_page <= 200:
        raise PaddleError(400, "invalid_field", "per_page must be between 1 and 200")
    items = sorted(items, key=lambda item: str(item[id_field]))
    after = query.get("after")
    if after:
        items = [item for item in items if str(item[id_field]) > after]
    chunk = items[:per_page]
    has_more = len(items) > per_page
    next_query = {**query, "after": chunk[-1][id_field]} if chunk else query
    return (
        200,
        chunk,
        {
            "per_page": per_page,
            "next": f"{url}?{urlencode(next_query)}",
            "has_more": has_more,
            "estimated_total": len(items),
        },
    )


def _settings(state: FakePaddleState, method: str, path: str, body: Any) -> Answer:
    setting_id = path.removeprefix("/notification-settings").strip("/")
    if not setting_id:
        if method == "GET":
            return 200, list(state.settings.values()), None
        if method == "POST":
            return 201, _create_setting(state, body), None
        raise PaddleError(405, "method_not_allowed", "Method not allowed")
    setting = state.settings.get(setting_id)
    if setting is None:
        raise PaddleError(404, "not_found", f"Notification setting {setting_id} not found")
    if method == "GET":
        return 200, setting, None
    if method == "DELETE":
        del state.settings[setting_id]
        return 204, None, None
    if method == "PATCH" and isinstance(body, dict):
        return 200, _patch_setting(setting, body), None
    raise PaddleError(400, "bad_request", "Invalid request")


def _patch_setting(setting: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    for name in ("description", "destination", "active", "api_version", "include_sensitive_fields"):
        if name in body:
            setting[name] = body[name]
    if "subscribed_events" in body:
        setting["subscribed_events"] = _subscribed(body["subscribed_events"])
    return setting


def _create_setting(state: FakePaddleState, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise PaddleError(400, "bad_request", "Invalid request")
    for required in ("description", "destination", "subscribed_events", "type"):
        if not body.get(required):
            raise PaddleError(400, "invalid_field", f"{required} is required")
    setting_id = _id("ntfset")
    setting = {
        "id": setting_id,
        "description": body["description"],
        "type": body["type"],
        "destination": body["destination"],
        "active": True,
        "api_version": int(body.get("api_version") or 1),
        "include_sensitive_fields": bool(body.get("include_sensitive_fields")),
        "traffic_source": body.get("traffic_source") or "platform",
        "subscribed_events": _subscribed(body["subscribed_events"]),
        "endpoint_secret_key": f"pdl_ntfset_{setting_id.removeprefix('ntfset_')}_{uuid.uuid4().hex}",
    }
    state.settings[setting_id] = setting
    return setting


class FakePaddleServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: FakePaddleState) -> None:
        super().__init__(address, _Handler)
        self.state = state

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def start_fake_paddle(api_key: str, host: str = "127.0.0.1", port: int = 0) -> FakePaddleServer:
    """Serve in a background thread; ``server.shutdown()`` stops it."""
    server = FakePaddleServer((host, port), FakePaddleState(api_key=api_key))
    threading.Thread(target=server.serve_forever, name="fake-paddle", daemon=True).start()
    return server


def main() -> None:  # pragma: no cover - a person's entry point
    parser = argparse.ArgumentParser(description="A fake Paddle Billing API on loopback (tests, the README)")
    parser.add_argument("--port", type=int, default=12112)
    parser.add_argument("--api-key", default="pdl_sdbx_apikey_local_fake_paddle_api_key")
    args = parser.parse_args()
    server = FakePaddleServer(("127.0.0.1", args.port), FakePaddleState(api_key=args.api_key))
    print(f"fake Paddle API on {server.url} (key {args.api_key})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
