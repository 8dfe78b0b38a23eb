"""The affiliate API client (Partnero v1 is the reference).

One keep-alive ``requests.Session`` per container (connection reuse saves a TLS
handshake per call), Bearer auth, explicit timeouts. Answers are classified so the
forwarder can act on them:

* 2xx -> done; 422 "key has already been taken" on create -> done (idempotent retry);
* 404 on delete -> done (already gone);
* a first sale creates its customer in the same call (``options.create_customer`` with
  the partner); an answer that the customer or its email exists falls back to a plain
  create for the existing customer;
* unknown customer on create -> ``UnknownCustomer`` (create the customer, then retry);
* 408, 425, 429, every 5xx, timeouts, connection errors -> ``RetryableError`` (with the
  Retry-After the API asked for, if any);
* 3xx -> ``RetryableError`` naming the redirect target: redirects are never followed
  (``requests`` turns a redirected POST into a GET, so a write would silently not
  happen), and a redirect that persists ends in the dead-letter queue after the retries;
* any other 4xx -> ``PermanentError``: retrying cannot help; the message goes to the
  dead-letter queue with this reason.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from affiliate_bridge import __version__
from affiliate_bridge.domain.money import Money, minor_unit_exponent
from affiliate_bridge.errors import PermanentError, RetryableError, UnknownCustomer
from affiliate_bridge.ports import ApiAnswer, HeldTransaction, NewCustomer

CONNECT_TIMEOUT_SECONDS = 3.05  # just over a TCP retransmit window, as requests advises
# Among 4xx only these are worth retrying; every 5xx is (501, 505, 507, Cloudflare's 520-530
# are as transient from here as 503).
RETRYABLE_CLIENT_STATUSES = frozenset({408, 425, 429})


def is_retryable_status(status: int) -> bool:
    return status >= 500 or status in RETRYABLE_CLIENT_STATUSES


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110, 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.lower()
    return str(body).lower()


def _field_errors(response: requests.Response) -> dict[str, str]:
    """Laravel-style ``{"errors": {"field": ["message"]}}`` as field -> lower-cased text;
    a body without field errors is filed under "key" when it mentions the key, so a bare
    "key already taken" message is still recognised."""
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, dict) and errors:
        return {str(field): str(messages).lower() for field, messages in errors.items()}
    text = _error_text(response)
    if "email" in text:
        return {"email": text}
    return {"key": text} if "key" in text else {}


def _minor_units(amount: Any, currency: str) -> int:
    """The API's decimal amount back in minor units (exact: via the number's text)."""
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        raise RetryableError(f"transaction amount {amount!r} is not a number")
    try:
        major = Decimal(str(amount))
    except InvalidOperation as exc:
        raise RetryableError(f"transaction amount {amount!r} is not a number") from exc
    return int(major.scaleb(minor_unit_exponent(currency)).to_integral_value())


def _says_taken(text: str) -> bool:
    return any(word in text for word in ("taken", "already", "exists", "unique", "duplicate"))


class PartneroClient:
    def __init__(
        self,
        base_url: str,
        api_key: Callable[[], str],
        timeout_seconds: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        """``api_key`` is called per request: the secret cache decides how often it is
        fetched, so a rotated key reaches warm containers without a redeploy."""
        self._base = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = (CONNECT_TIMEOUT_SECONDS, timeout_seconds)
        self._session = session or requests.Session()
        self._session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=4))
        self._session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=4))
        self._session.headers.update({"Accept": "application/json", "User-Agent": f"affiliate-bridge/{__version__}"})

    def _call(self, method: str, path: str, json_body: Mapping[str, Any] | None = None) -> requests.Response:
        try:
            response = self._session.request(
                method,
                self._base + path,
                json=json_body,
                timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._api_key()}"},
                allow_redirects=False,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise RetryableError(f"{method} {path}: {type(exc).__name__}") from exc
        if 300 <= response.status_code < 400:
            raise RetryableError(
                f"{method} {path}: HTTP {response.status_code} redirect to"
                f" {response.headers.get('Location', '(no Location)')} not followed (check PARTNERO_API_URL)",
                response.status_code,
                response.text,
            )
        if is_retryable_status(response.status_code):
            raise RetryableError(
                f"{method} {path}: HTTP {response.status_code}",
                response.status_code,
                response.text,
                parse_retry_after(response.headers.get("Retry-After")),
            )
        return response

    def create_transaction(
        self,
        key: str,
        customer_key: str,
        amount: Money,
        created_at: int | None = None,
        new_customer: NewCustomer | None = None,
    ) -> ApiAnswer:
        customer: dict[str, Any] = {"key": customer_key}
        body: dict[str, Any] = {
            "customer": customer,
            "key": key,
            # Edge conversion: exact Decimal to a JSON number; float repr of a value with
            # at most 3 decimals round-trips exactly.
            "amount": float(amount.to_major()),
            "amount_units": amount.currency,
            "action": "sale",
        }
        if created_at:
            body["created_at"] = created_at
        if new_customer is not None:
            customer["partner"] = {"key": new_customer.partner_key}
            if new_customer.email:
                customer["email"] = new_customer.email
            body["options"] = {"create_customer": True}
        response = self._call("POST", "/v1/transactions", body)
        if response.ok:
            return ApiAnswer(response.status_code)
        errors = _field_errors(response)
        # Which 4xx a given API uses for these two is not documented; 400, 404, 409 and
        # 422 are all seen in the wild, so the message decides.
        if response.status_code in (400, 409, 422) and _says_taken(errors.get("key", "")):
            return ApiAnswer(response.status_code, duplicate=True)
        if new_customer is not None and response.status_code in (400, 409, 422):
            # The customer (or another with this email) already exists: the one-call
            # create is not needed, fall back to a plain transaction for the customer.
            taken = {field for field, text in errors.items() if field.startswith("customer") and _says_taken(text)}
            if taken or _says_taken(errors.get("email", "")):
                only_email = bool(taken) and all("email" in field for field in taken)
                fallback = NewCustomer(new_customer.partner_key, None) if only_email and new_customer.email else None
                return self.create_transaction(key, customer_key, amount, created_at, fallback)
        if response.status_code in (400, 404, 422) and "customer" in _error_text(response):
            raise UnknownCustomer("customer not known to the affiliate API", response.status_code, response.text)
        raise PermanentError(f"POST /v1/transactions: HTTP {response.status_code}", response.status_code, response.text)

    def create_customer(self, customer_key: str, partner_key: str, email: str | None) -> ApiAnswer:
        """Create the customer under its partner. The API wants customer emails unique:
        when another customer already has this email, the customer is created without it
        (the key is what transactions need)."""
        body: dict[str, Any] = {"key": customer_key, "partner": {"key": partner_key}}
        if email:
            body["email"] = email
        response = self._call("POST", "/v1/customers", body)
        if response.ok:
            return ApiAnswer(response.status_code)
        errors = _field_errors(response)
        if response.status_code in (409, 422) and _says_taken(errors.get("key", "")):
            return ApiAnswer(response.status_code, duplicate=True)
        if email and response.status_code == 422 and _says_taken(errors.get("email", "")):
            return self.create_customer(customer_key, partner_key, None)
        raise PermanentError(f"POST /v1/customers: HTTP {response.status_code}", response.status_code, response.text)

    def find_transaction(self, key: str, customer_key: str, currency: str) -> int | None:
        """The amount (minor units) the API holds under ``key``, or None when it holds none
        (never created, or deleted). Read through the documented listing filtered by the
        customer, following Laravel-style pagination (``meta.current_page/last_page``)."""
        page = 1
        while True:
            response = self._call("GET", f"/v1/transactions?customer.key={quote(customer_key, safe='')}&page={page}")
            if response.status_code == 404:
                return None
            if not response.ok:
                raise PermanentError(
                    f"GET /v1/transactions: HTTP {response.status_code}", response.status_code, response.text
                )
            try:
                body = response.json()
            except ValueError as exc:
                raise RetryableError("GET /v1/transactions: answer is not JSON", response.status_code) from exc
            rows = body.get("data") if isinstance(body, dict) else None
            for row in rows if isinstance(rows, list) else []:
                if isinstance(row, dict) and row.get("key") == key and not row.get("deleted_at"):
                    return _minor_units(row.get("amount"), currency)
            meta = body.get("meta") if isinstance(body, dict) else None
            if not isinstance(meta, dict) or int(meta.get("current_page") or 1) >= int(meta.get("last_page") or 1):
                return None
            page += 1

    def list_transactions(self) -> Iterator[HeldTransaction]:
        """Every transaction the API lists, page by page (``meta.current_page/last_page``),
        for reconcile. Rows it cannot read (no key) are skipped: they are not the bridge's."""
        page = 1
        while True:
            body = self._page("/v1/transactions", page)
            rows = body.get("data")
            for row in rows if isinstance(rows, list) else []:
                held = _held_transaction(row)
                if held is not None:
                    yield held
            meta = body.get("meta")
            if not isinstance(meta, dict) or int(meta.get("current_page") or 1) >= int(meta.get("last_page") or 1):
                return
            page += 1

    def _page(self, path: str, page: int) -> dict[str, Any]:
        response = self._call("GET", f"{path}?page={page}")
        if not response.ok:
            raise PermanentError(f"GET {path}: HTTP {response.status_code}", response.status_code, response.text)
        try:
            body = response.json()
        except ValueError as exc:
            raise RetryableError(f"GET {path}: answer is not JSON", response.status_code) from exc
        if not isinstance(body, dict):
            raise RetryableError(f"GET {path}: answer is not a JSON object", response.status_code)
        return body

    def customer_partner(self, customer_key: str) -> str | None:
        """The partner key the API holds the customer under, None when it does not know it."""
        response = self._call("GET", f"/v1/customers/{quote(customer_key, safe='')}")
        if response.status_code == 404:
            return None
        if not response.ok:
            raise PermanentError(f"GET /v1/customers: HTTP {response.status_code}", response.status_code, response.text)
        try:
            data = response.json().get("data") or {}
        except (ValueError, AttributeError) as exc:
            raise RetryableError("GET /v1/customers: answer is not JSON", response.status_code) from exc
        partner = data.get("partner") if isinstance(data, dict) else None
        if isinstance(partner, dict):
            partner = partner.get("key")
        return str(partner) if partner else ""

    def rename_customer(self, customer_key: str, new_key: str) -> ApiAnswer:
        """``PUT /v1/customers/{key}`` with ``update.key``: the documented way to set a
        customer aside (its transactions, and their partner, go with it). 404: gone already."""
        response = self._call("PUT", f"/v1/customers/{quote(customer_key, safe='')}", {"update": {"key": new_key}})
        if response.ok or response.status_code == 404:
            return ApiAnswer(response.status_code)
        raise PermanentError(f"PUT /v1/customers: HTTP {response.status_code}", response.status_code, response.text)

    def delete_transaction(self, key: str) -> ApiAnswer:
        response = self._call("DELETE", f"/v1/transactions/{quote(key, safe='')}")
        if response.ok or response.status_code == 404:
            return ApiAnswer(response.status_code)
        raise PermanentError(
            f"DELETE /v1/transactions: HTTP {response.status_code}", response.status_code, response.text
        )


def _held_transaction(row: object) -> HeldTransaction | None:
    if not isinstance(row, dict) or not isinstance(row.get("key"), str) or not row["key"]:
        return None
    customer = row.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("key")
    units = row.get("amount_units")
    return HeldTransaction(
        key=row["key"],
        amount=str(row.get("amount")),
        currency=units.upper() if isinstance(units, str) and len(units) == 3 else None,
        customer_key=str(customer) if customer else None,
        deleted=bool(row.get("deleted_at")),
        created_at=_unix(row.get("created_at")),
    )


def _unix(value: object) -> int | None:
    """The API's ``created_at``: unix seconds, or an ISO 8601 text."""
    from datetime import datetime

    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value:
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    return None
