"""Paddle Billing's API, with the merchant's API key.

Written on ``requests`` (already in the layer) rather than Paddle's Python SDK: the five
calls the bridge makes are plain JSON, the SDK would add a dependency to the layer, and
it chooses its server from a fixed list of environments, while tests and a
Paddle-compatible server need ``PADDLE_API_URL``.

Sandbox or live follows the key (``pdl_sdbx_`` / ``pdl_live_`` prefixes, as Paddle issues
them); ``PADDLE_API_URL`` overrides, and is needed for a key without either prefix. Lists
follow Paddle's cursor pagination (``meta.pagination.next``). 429 and 5xx are tried again
twice, after ``Retry-After`` when given; anything else becomes ``ProviderApiError`` with
Paddle's ``error.detail``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from affiliate_bridge import __version__
from affiliate_bridge.errors import ProviderApiError

SANDBOX_URL = "https://sandbox-api.paddle.com"
LIVE_URL = "https://api.paddle.com"
PER_PAGE = 200  # Paddle's largest page
RETRIES = 2
# A listing that pages this far is a server whose cursor does not advance, not a shop.
MAX_PAGES = 10_000


def base_url_for(api_key: str, override: str | None = None) -> str:
    if override:
        return override.rstrip("/")
    if api_key.startswith("pdl_sdbx_"):
        return SANDBOX_URL
    if api_key.startswith("pdl_live_"):
        return LIVE_URL
    raise ProviderApiError(
        "cannot tell Paddle sandbox from live by this API key (no pdl_sdbx_/pdl_live_ prefix):"
        f" set PADDLE_API_URL to {SANDBOX_URL} or {LIVE_URL}"
    )


def rfc3339(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _detail(response: requests.Response) -> str:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return " ".join(response.text[:200].split()) or response.reason
    if not isinstance(error, dict):
        return " ".join(str(error)[:200].split()) or response.reason
    return " ".join(str(error.get("detail") or error.get("code") or response.reason).split())


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _objects(data: object, path: str) -> list[dict[str, Any]]:
    """A list answer's ``data``: a list of JSON objects, or a one-line error."""
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ProviderApiError(f"Paddle GET {path}: data is not a list of objects")
    return data


def _object(data: object, path: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProviderApiError(f"Paddle {path}: data is not an object")
    return data


class PaddleApi:
    def __init__(self, api_key: str, base_url: str | None = None, timeout_seconds: float = 20.0) -> None:
        self._base = base_url_for(api_key, base_url)
        self._timeout = timeout_seconds
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": f"affiliate-bridge/{__version__}",
            }
        )

    @property
    def base_url(self) -> str:
        return self._base

    def _request(self, method: str, url: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        target = url if urlsplit(url).scheme else self._base + url
        for attempt in range(RETRIES + 1):
            try:
                response = self._session.request(method, target, json=body, timeout=self._timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == RETRIES:
                    raise ProviderApiError(f"Paddle {method} {urlsplit(target).path}: {type(exc).__name__}") from exc
                time.sleep(1 + attempt)
                continue
            if (response.status_code == 429 or response.status_code >= 500) and attempt < RETRIES:
                time.sleep(min(float(response.headers.get("Retry-After") or 1 + attempt), 30.0))
                continue
            if not response.ok:
                raise ProviderApiError(
                    f"Paddle {method} {urlsplit(target).path}: HTTP {response.status_code}: {_detail(response)}",
                    response.status_code,
                )
            if response.status_code == 204 or not response.content:
                return {}
            try:
                answer = response.json()
            except ValueError as exc:
                raise ProviderApiError(f"Paddle {method} {urlsplit(target).path}: answer is not JSON") from exc
            if not isinstance(answer, dict):
                raise ProviderApiError(f"Paddle {method} {urlsplit(target).path}: answer is not a JSON object")
            return answer
        raise AssertionError("unreachable")

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item, following ``meta.pagination.next``. An empty page, or a next page
        already read, ends the listing: a server whose cursor does not advance would
        otherwise be read for ever."""
        url: str | None = path
        read: set[str] = set()
        while url and url not in read:
            if len(read) == MAX_PAGES:
                raise ProviderApiError(f"Paddle GET {urlsplit(path).path}: more than {MAX_PAGES} pages")
            read.add(url)
            answer = self._request("GET", url)
            items = _objects(answer.get("data"), urlsplit(path).path)
            yield from items
            pagination = _mapping(_mapping(answer.get("meta")).get("pagination"))
            more = bool(pagination.get("has_more")) and bool(items) and bool(pagination.get("next"))
            url = str(pagination["next"]) if more else None

    # -- notification settings (destinations) ------------------------------------------------
    def notification_settings(self) -> list[dict[str, Any]]:
        return _objects(self._request("GET", "/notification-settings").get("data"), "/notification-settings")

    def create_notification_setting(self, destination: str, events: Sequence[str], description: str) -> dict[str, Any]:
        body = {
            "description": description,
            "destination": destination,
            "subscribed_events": list(events),
            "type": "url",
            "api_version": 1,
            "include_sensitive_fields": False,
            "traffic_source": "all",
        }
        return _object(self._request("POST", "/notification-settings", body).get("data"), "/notification-settings")

    def update_notification_setting(
        self, setting_id: str, destination: str, events: Sequence[str], description: str
    ) -> dict[str, Any]:
        body = {
            "description": description,
            "destination": destination,
            "subscribed_events": list(events),
            "active": True,
        }
        path = f"/notification-settings/{setting_id}"
        return _object(self._request("PATCH", path, body).get("data"), path)

    # -- events and notifications ------------------------------------------------------------
    def events(self, types: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Paddle's event log (it keeps 90 days), oldest first, of the given types; each
        event is shaped as its notification's payload, less the notification id."""
        yield from self._pages(f"/events?per_page={PER_PAGE}&event_type={','.join(types)}")

    def failed_notifications(self, since: int, setting_ids: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        path = f"/notifications?per_page={PER_PAGE}&status=failed&from={rfc3339(since)}"
        if setting_ids:
            path += f"&notification_setting_id={','.join(setting_ids)}"
        yield from self._pages(path)

    def replay(self, notification_id: str) -> str:
        """Ask Paddle to deliver a notification again; returns the new notification's id."""
        path = f"/notifications/{notification_id}/replay"
        return str(_object(self._request("POST", path, body=None).get("data"), path).get("notification_id") or "")
