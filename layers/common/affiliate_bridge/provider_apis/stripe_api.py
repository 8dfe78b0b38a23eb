"""Stripe's API through the ``stripe`` SDK, with the merchant's API key.

Used by ``register``, ``backfill`` and the scheduled reconciler, never by a webhook:
``stripe`` is imported when this client is built (about 90 ms), so the webhook
functions, which never build it, do not pay for it.

``base_url`` (``STRIPE_API_BASE``) points the SDK at another server: a test double, or
a Stripe-compatible one. The SDK retries 429 and 5xx answers itself (twice, with
backoff); anything it still fails with becomes ``ProviderApiError`` with Stripe's own
message, for a one-line answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from affiliate_bridge.errors import ProviderApiError

DEFAULT_BASE_URL = "https://api.stripe.com"
# Stripe's ``types`` filter takes at most this many event types per request.
MAX_TYPES_PER_LIST = 20
# Object lists are read at this version: its invoices still name their payment intent
# and charge, and its charges their invoice, so a refund rebuilt from a charge finds the
# invoice's transaction without the later invoice_payment objects.
LINKED_OBJECTS_VERSION = "2024-06-20"


# A listing that pages this far is a server whose cursor does not advance, not a shop.
MAX_PAGES = 10_000


def _wrap(action: str, exc: Exception, base_url: str) -> ProviderApiError:
    """One line: the SDK's connection message spans lines and names support@stripe.com,
    which says nothing when the server is a Stripe-compatible one that is down."""
    status = getattr(exc, "http_status", None)
    if exc.__class__.__name__ == "APIConnectionError":
        cause = exc.__cause__ or exc.__context__
        return ProviderApiError(f"Stripe {action}: cannot reach {base_url} ({type(cause or exc).__name__})", status)
    message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    return ProviderApiError(f"Stripe {action}: {' '.join(str(message).split())}", status)


def _unexpected(action: str, base_url: str, exc: Exception) -> ProviderApiError:
    return ProviderApiError(f"Stripe {action}: unexpected answer from {base_url} ({type(exc).__name__}: {exc})")


def _created_within(event: Mapping[str, Any], since: int, until: int | None) -> bool:
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        return False
    return created >= since and (until is None or created < until)


class StripeApi:
    def __init__(self, api_key: str, base_url: str | None = None, api_version: str | None = None) -> None:
        import stripe

        self._stripe = stripe
        self._base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        addresses: dict[str, str] = {"api": self._base_url}
        self._client = stripe.StripeClient(
            api_key,
            stripe_version=api_version,
            base_addresses=addresses,  # type: ignore[arg-type]
            max_network_retries=2,
        )

    def _list(
        self, action: str, service: Any, params: Mapping[str, Any], version: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item, page after page. A page must bring items not seen before: a server
        whose cursor does not advance would otherwise be listed for ever."""
        options: dict[str, Any] = {"stripe_version": version} if version else {}
        seen: set[str] = set()
        try:
            page = service.list(params=dict(params), options=options)
            for _ in range(MAX_PAGES):
                items = [item.to_dict() for item in page.data]
                fresh = [item for item in items if str(item.get("id")) not in seen]
                seen.update(str(item.get("id")) for item in items)
                yield from fresh
                if not page.has_more or not fresh:
                    return
                page = page.next_page()
            raise ProviderApiError(f"Stripe {action}: more than {MAX_PAGES} pages from {self._base_url}")
        except self._stripe.StripeError as exc:
            raise _wrap(action, exc, self._base_url) from exc
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise _unexpected(action, self._base_url, exc) from exc

    # -- events ----------------------------------------------------------------------------
    def events(
        self,
        since: int,
        until: int | None,
        types: Sequence[str],
        delivery_success: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Events created in [since, until) of the given types, oldest first (Stripe lists
        newest first; a sale is fed before the refund that follows it).

        The type and window are checked again here, and each event kept once: a
        Stripe-compatible server (a test double, stripe-mock) may ignore a filter, and an
        event outside what was asked must not be fed."""
        created: dict[str, int] = {"gte": since}
        if until is not None:
            created["lt"] = until
        wanted = set(types)
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(types), MAX_TYPES_PER_LIST):
            params: dict[str, Any] = {
                "created": created,
                "limit": 100,
                "types": list(types[start : start + MAX_TYPES_PER_LIST]),
            }
            if delivery_success is not None:
                params["delivery_success"] = delivery_success
            for event in self._list("events.list", self._client.v1.events, params):
                if event.get("type") in wanted and _created_within(event, since, until):
                    found.setdefault(str(event.get("id")), event)
        return sorted(reversed(list(found.values())), key=lambda event: int(event.get("created") or 0))

    # -- objects (older than the 30 days of events) ----------------------------------------
    def objects(self, kind: str, since: int, until: int | None) -> Iterator[dict[str, Any]]:
        """Invoices, charges (with their refunds), disputes or checkout sessions created in
        the window, read at ``LINKED_OBJECTS_VERSION``."""
        created: dict[str, int] = {"gte": since}
        if until is not None:
            created["lt"] = until
        params: dict[str, Any] = {"created": created, "limit": 100}
        services = {
            "invoice": self._client.v1.invoices,
            "charge": self._client.v1.charges,
            "dispute": self._client.v1.disputes,
            "checkout.session": self._client.v1.checkout.sessions,
        }
        if kind == "charge":
            params["expand"] = ["data.refunds"]
        yield from self._list(f"{kind} list", services[kind], params, LINKED_OBJECTS_VERSION)

    # -- webhook endpoints -----------------------------------------------------------------
    def webhook_endpoints(self) -> list[dict[str, Any]]:
        return list(self._list("webhook_endpoints.list", self._client.v1.webhook_endpoints, {"limit": 100}))

    def create_webhook_endpoint(
        self, url: str, events: Sequence[str], api_version: str, description: str
    ) -> dict[str, Any]:
        params: Any = {
            "url": url,
            "enabled_events": list(events),
            "api_version": api_version,
            "description": description,
        }
        return self._call("webhook_endpoints.create", lambda: self._client.v1.webhook_endpoints.create(params=params))

    def update_webhook_endpoint(self, endpoint_id: str, events: Sequence[str], description: str) -> dict[str, Any]:
        params = {"enabled_events": list(events), "description": description, "disabled": False}
        return self._call(
            "webhook_endpoints.update",
            lambda: self._client.v1.webhook_endpoints.update(endpoint_id, params=params),  # type: ignore[arg-type]
        )

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        self._call("webhook_endpoints.delete", lambda: self._client.v1.webhook_endpoints.delete(endpoint_id))

    def _call(self, action: str, request: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = request().to_dict()
        except self._stripe.StripeError as exc:
            raise _wrap(action, exc, self._base_url) from exc
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise _unexpected(action, self._base_url, exc) from exc
        return result
