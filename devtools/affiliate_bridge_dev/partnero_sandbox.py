"""A local stand-in for the Partnero v1 API subset the bridge uses.

Implements ``POST/GET /v1/customers``, ``GET/PUT /v1/customers/{key}``,
``POST/GET /v1/transactions`` and ``DELETE /v1/transactions/{key}`` with the
validation that matters to the bridge: Bearer auth, unknown customer, unknown partner,
duplicate keys (a deleted transaction's key stays taken, as the bridge assumes), soft
deletes, Laravel-style pages on the transaction listing. ``GET /`` shows what arrived,
for a person watching ``make run``; ``PATCH /_sandbox/transactions/{key}`` changes one
by hand (an amount, or deleted), as a person could at the platform.

Faults can be injected (``POST /_sandbox/faults``: status, count, retry_after, and
delay_seconds for an API that stalls before it answers) so tests
and demos can watch the forwarder back off and recover. State lives in memory.
"""

from __future__ import annotations

import html
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Fault:
    status: int  # 0: no error status, only the delay (a stalled API that answers late)
    remaining: int
    retry_after: int | None = None
    path_prefix: str = "/v1/"
    delay_seconds: float = 0.0


@dataclass
class SandboxState:
    api_key: str
    partners: set[str] | None = None  # None: any partner key is accepted
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def active_transactions(self) -> list[dict[str, Any]]:
        return [t for t in self.transactions.values() if t["deleted_at"] is None]

    def export(self) -> dict[str, Any]:
        with self.lock:
            return {"customers": dict(self.customers), "transactions": dict(self.transactions)}

    def restore(self, saved: dict[str, Any]) -> None:
        with self.lock:
            self.customers.update(saved.get("customers", {}))
            self.transactions.update(saved.get("transactions", {}))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY the second waits
        # for a delayed ACK (~40 ms per keep-alive request).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing ----------------------------------------------------------------------
    def _send(
        self, status: int, body: Any, headers: dict[str, str] | None = None, content_type: str = "application/json"
    ) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return None

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else {}
        if path.startswith("/_sandbox") or path == "/":
            self._sandbox(method, path, body)
            return
        with state.lock:
            fault = next((f for f in state.faults if f.remaining > 0 and path.startswith(f.path_prefix)), None)
            if fault is not None:
                fault.remaining -= 1
        if fault is not None and fault.delay_seconds:
            time.sleep(fault.delay_seconds)  # outside the lock: other requests are not held
        with state.lock:
            state.requests.append({"method": method, "path": path, "body": body, "at": time.time()})
            if fault is not None and fault.status:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                self._send(fault.status, {"message": f"sandbox fault {fault.status}"}, headers)
                return
            if self.headers.get("Authorization") != f"Bearer {state.api_key}":
                self._send(401, {"message": "Unauthenticated."})
                return
            if body is None:
                self._send(400, {"message": "Malformed JSON."})
                return
            self._api(method, path, body, parse_qs(url.query))

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # -- the API -----------------------------------------------------------------------
    def _api(self, method: str, path: str, body: dict[str, Any], query: dict[str, list[str]]) -> None:
        state = self.server.state
        if path == "/v1/customers" and method == "POST":
            self._create_customer(body)
        elif path == "/v1/customers" and method == "GET":
            self._send(200, {"data": list(state.customers.values()), "status": 1})
        elif path.startswith("/v1/customers/") and method == "GET":
            customer = state.customers.get(unquote(path.split("/", 3)[3]))
            self._send(200, {"data": customer, "status": 1}) if customer else self._send(
                404, {"message": "Customer not found."}
            )
        elif path.startswith("/v1/customers/") and method == "PUT":
            self._update_customer(unquote(path.split("/", 3)[3]), body)
        elif path == "/v1/transactions" and method == "POST":
            self._create_transaction(body)
        elif path == "/v1/transactions" and method == "GET":
            rows = list(state.transactions.values())
            if "customer.key" in query:
                rows = [t for t in rows if t["customer"] == query["customer.key"][0]]
            self._send(200, _paginated(rows, query))
        elif path.startswith("/v1/transactions/") and method == "DELETE":
            key = unquote(path.split("/", 3)[3])
            transaction = state.transactions.get(key)
            if transaction is None or transaction["deleted_at"] is not None:
                self._send(404, {"message": "Transaction not found."})
            else:
                transaction["deleted_at"] = _now()
                self._send(200, {"status": 1})
        else:
            self._send(404, {"message": "Not found."})

    def _validation(self, errors: dict[str, list[str]]) -> None:
        self._send(422, {"message": next(iter(errors.values()))[0], "errors": errors})

    def _create_customer(self, body: dict[str, Any]) -> None:
        state = self.server.state
        key = body.get("key")
        partner = (body.get("partner") or {}).get("key")
        if not isinstance(key, str) or not key:
            self._validation({"key": ["The key field is required."]})
        elif not isinstance(partner, str) or not partner:
            self._validation({"partner.key": ["The partner field is required."]})
        elif state.partners is not None and partner not in state.partners:
            self._send(400, {"message": "Invalid partner key."})
        elif key in state.customers:
            self._validation({"key": ["The key has already been taken."]})
        elif body.get("email") and any(c.get("email") == body["email"] for c in state.customers.values()):
            self._validation({"email": ["The email has already been taken."]})
        else:
            state.customers[key] = {
                "key": key,
                "partner": partner,
                "email": body.get("email"),
                "deleted": False,
                "created_at": _now(),
            }
            self._send(201, {"data": state.customers[key], "status": 1})

    def _update_customer(self, key: str, body: dict[str, Any]) -> None:
        """``update.key`` renames the customer (its transactions stay with it)."""
        state = self.server.state
        update = body.get("update") if isinstance(body, dict) else None
        customer = state.customers.get(key)
        if customer is None:
            self._send(404, {"message": "Customer not found."})
        elif not isinstance(update, dict):
            self._validation({"update": ["The update field is required."]})
        else:
            new_key = update.get("key")
            if isinstance(new_key, str) and new_key and new_key != key:
                if new_key in state.customers:
                    self._validation({"update.key": ["The key has already been taken."]})
                    return
                state.customers[new_key] = {**state.customers.pop(key), "key": new_key}
                for transaction in state.transactions.values():
                    if transaction["customer"] == key:
                        transaction["customer"] = new_key
                key = new_key
            if isinstance(update.get("email"), str):
                state.customers[key]["email"] = update["email"]
            self._send(200, {"data": state.customers[key], "status": 1})

    def _create_transaction(self, body: dict[str, Any]) -> None:
        state = self.server.state
        customer = body.get("customer") or {}
        customer_key = customer.get("key")
        key = body.get("key")
        amount = body.get("amount")
        create = bool((body.get("options") or {}).get("create_customer"))
        partner = (customer.get("partner") or {}).get("key")
        if create and isinstance(customer_key, str) and customer_key not in state.customers:
            if not isinstance(partner, str) or (state.partners is not None and partner not in state.partners):
                self._send(400, {"message": "Invalid partner key."})
                return
            state.customers[customer_key] = {
                "key": customer_key,
                "partner": partner,
                "email": customer.get("email"),
                "deleted": False,
                "created_at": _now(),
            }
        if not isinstance(customer_key, str) or customer_key not in state.customers:
            self._validation({"customer.key": ["Customer not found."]})
        elif not isinstance(amount, (int, float)) or isinstance(amount, bool):
            self._validation({"amount": ["The amount must be a number."]})
        elif key is not None and key in state.transactions:
            self._validation({"key": ["The key has already been taken."]})
        else:
            record = {
                "key": key,
                "action": body.get("action"),
                "amount": amount,
                "amount_units": body.get("amount_units"),
                "customer": customer_key,
                "partner": state.customers[customer_key]["partner"],
                "created_at": body.get("created_at") or _now(),
                "deleted_at": None,
            }
            state.transactions[str(key)] = record
            self._send(201, {"data": record, "status": 1})

    def _alter(self, key: str, body: dict[str, Any]) -> None:
        """A change made by hand at the platform (its dashboard), which the bridge did not
        make: ``amount`` replaces the amount; ``deleted: true`` deletes it."""
        transaction = self.server.state.transactions.get(key)
        if transaction is None:
            self._send(404, {"message": "Transaction not found."})
            return
        if isinstance(body.get("amount"), int | float) and not isinstance(body.get("amount"), bool):
            transaction["amount"] = body["amount"]
        if body.get("deleted") is True:
            transaction["deleted_at"] = _now()
        self._send(200, {"data": transaction, "status": 1})

    # -- what a person (or a test) sees ------------------------------------------------------
    def _sandbox(self, method: str, path: str, body: Any) -> None:
        state = self.server.state
        with state.lock:
            if path == "/_sandbox/state" and method == "GET":
                self._send(
                    200,
                    {
                        "customers": state.customers,
                        "transactions": state.transactions,
                        "requests": len(state.requests),
                    },
                )
            elif path == "/_sandbox/faults" and method == "POST" and isinstance(body, dict):
                state.faults.append(
                    Fault(
                        status=int(body.get("status", 0 if body.get("delay_seconds") else 503)),
                        remaining=int(body.get("count", 1)),
                        retry_after=body.get("retry_after"),
                        path_prefix=str(body.get("path_prefix", "/v1/")),
                        delay_seconds=float(body.get("delay_seconds") or 0),
                    )
                )
                self._send(201, {"faults": len(state.faults)})
            elif path.startswith("/_sandbox/transactions/") and method == "PATCH" and isinstance(body, dict):
                self._alter(unquote(path.split("/", 3)[3]), body)
            elif path == "/_sandbox/faults" and method == "DELETE":
                state.faults.clear()
                self._send(200, {"faults": 0})
            elif path == "/" and method == "GET":
                self._send(200, _page(state), content_type="text/html; charset=utf-8")
            else:
                self._send(404, {"message": "Not found."})


PER_PAGE = 25  # small, so a listing of a few dozen transactions already spans pages


def _paginated(rows: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    """Laravel-style pages (``page``; ``meta.current_page/last_page/total``), as the API's listings."""
    try:
        page = max(1, int(query.get("page", ["1"])[0]))
    except ValueError:
        page = 1
    last_page = max(1, -(-len(rows) // PER_PAGE))
    chunk = rows[(page - 1) * PER_PAGE : page * PER_PAGE]
    meta = {"current_page": page, "last_page": last_page, "per_page": PER_PAGE, "total": len(rows)}
    return {"data": chunk, "meta": meta, "status": 1}


def _page(state: SandboxState) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(str(t['key']))}</td><td>{html.escape(str(t['customer']))}</td>"
        f"<td>{html.escape(str(t['partner']))}</td><td>{t['amount']} {html.escape(str(t['amount_units']))}</td>"
        f"<td>{'deleted' if t['deleted_at'] else 'active'}</td></tr>"
        for t in state.transactions.values()
    )
    return (
        "<!doctype html><title>Partnero sandbox</title><meta http-equiv=refresh content=5>"
        "<h1>Partnero sandbox</h1><p>Transactions received by the local affiliate API "
        f"({len(state.customers)} customers).</p><table border=1 cellpadding=4><tr><th>key</th><th>customer</th>"
        f"<th>partner</th><th>amount</th><th>state</th></tr>{rows}</table>"
    )


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        super().__init__(address, _Handler)
        self.state = state

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def start_sandbox(api_key: str, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Serve in a background thread; ``server.shutdown()`` stops it."""
    server = SandboxServer((host, port), SandboxState(api_key=api_key))
    threading.Thread(target=server.serve_forever, name="partnero-sandbox", daemon=True).start()
    return server
