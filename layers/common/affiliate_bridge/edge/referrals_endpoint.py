"""The referrals function: who referred whom, from your backend or from the platform.

``POST /referrals`` (any path but ``/partnero``): your backend after signup, body
``{"customer_key", "partner_key", "email"?, "stripe_customer_id"?, "paddle_customer_id"?}``
with ``Authorization: Bearer <REFERRALS_API_TOKEN>`` compared in constant time. Answers
201 created, 200 unchanged or updated, 409 when first touch keeps an existing, different
partner (the body names it; the claim is recorded), 400/401/405/413 for bad requests.

``POST /partnero``: the affiliate platform's ``customer.created/updated/deleted``
webhooks, verified by their ``Signature`` header. Created follows first touch like the
backend call; updated is the platform's own reassignment and wins; deleted stops
attribution for that customer.

Either way, a stored referral releases the payments parked for it (late attribution),
and, with CREATE_CUSTOMER_ON_REFERRAL, a backend signup is mirrored at the affiliate API
through the queue.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from affiliate_bridge.attribution.late import LateAttribution
from affiliate_bridge.domain.events import Referral
from affiliate_bridge.domain.identity import loggable_key
from affiliate_bridge.domain.messages import customer_message
from affiliate_bridge.domain.validation import validate_customer_key, validate_referral
from affiliate_bridge.edge import observability as obs
from affiliate_bridge.edge.function_url import (
    HttpRequest,
    json_response,
    parse_event,
    parse_json_object,
    rejection_response,
    require_post,
)
from affiliate_bridge.edge.webhook_endpoint import not_configured_response
from affiliate_bridge.errors import ConfigurationError, MalformedEvent, RequestRejected, SignatureError
from affiliate_bridge.providers.partnero.webhook import PlatformAction, parse_platform_event, verify_partnero_signature
from affiliate_bridge.storage.referrals import ReferralOutcome, ReferralsStore
from affiliate_bridge.storage.transactions_queue import TransactionsQueue

MAX_FIELD_LENGTH = 256
REFERRALS_BODY_LIMIT = 65_536
PLATFORM_PATH_SUFFIX = "/partnero"
_STATUS = {
    ReferralOutcome.CREATED: 201,
    ReferralOutcome.UNCHANGED: 200,
    ReferralOutcome.UPDATED: 200,
    ReferralOutcome.CONFLICT: 409,
}


def _authorised(request: HttpRequest, tokens: tuple[str, ...]) -> bool:
    """Any of the configured tokens (two during a rotation). ``tokens`` is never empty:
    ``resolve_secrets`` refuses to hand out none, so an empty presented token cannot
    match an empty configured one."""
    header = request.header("authorization") or ""
    scheme, _, presented = header.partition(" ")
    presented_bytes = presented.strip().encode("utf-8", "surrogatepass")
    matched = False
    for token in tokens:
        # compare_digest runs in time independent of where the two differ; only the
        # scheme check (is it "Bearer"?) is an ordinary comparison.
        matched |= hmac.compare_digest(presented_bytes, token.encode("utf-8"))
    return scheme.lower() == "bearer" and bool(presented_bytes) and matched


def parse_referral(body: Mapping[str, Any], source: str = "api") -> Referral:
    def text(name: str, required: bool) -> str | None:
        value = body.get(name)
        if value is None or value == "":
            if required:
                raise RequestRejected(400, "missing_field", f"{name} is required")
            return None
        if not isinstance(value, str) or len(value) > MAX_FIELD_LENGTH or not value.strip():
            raise RequestRejected(
                400, "invalid_field", f"{name} must be a non-empty string of at most {MAX_FIELD_LENGTH} characters"
            )
        return value.strip()

    referral = Referral(
        customer_key=text("customer_key", True) or "",
        partner_key=text("partner_key", True) or "",
        email=text("email", False),
        stripe_customer_id=text("stripe_customer_id", False),
        paddle_customer_id=text("paddle_customer_id", False),
        source=source,
    )
    try:
        validate_referral(referral)
    except MalformedEvent as exc:
        raise RequestRejected(400, "invalid_field", str(exc)) from exc
    return referral


def _count(outcome: str) -> None:
    obs.metrics.add_dimension(name="outcome", value=outcome)
    obs.metrics.add_metric(name=obs.REFERRALS, unit="Count", value=1)


@dataclass(frozen=True)
class ReferralsEndpoint:
    store: ReferralsStore
    late: LateAttribution
    queue: TransactionsQueue
    tokens: Callable[[], tuple[str, ...]]
    platform_secrets: Callable[[], tuple[str, ...]]
    last_touch: bool = False
    mirror_customers: bool = False

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            request = parse_event(event, REFERRALS_BODY_LIMIT)
            require_post(request)
            if request.path.rstrip("/").endswith(PLATFORM_PATH_SUFFIX):
                return self._platform(request)
            return self._backend(request)
        except RequestRejected as exc:
            _count("rejected")
            obs.logger.warning("referral rejected", extra={"reason": exc.code})
            return rejection_response(exc)
        except ConfigurationError as exc:
            return not_configured_response(exc)
        except Exception:
            obs.logger.exception("referral not stored: answering 500 so the caller retries")
            return json_response(500, {"error": "internal_error", "message": "try again later"})

    # -- your backend ----------------------------------------------------------------------
    def _backend(self, request: HttpRequest) -> dict[str, Any]:
        if not _authorised(request, self.tokens()):
            _count("unauthorized")
            return json_response(401, {"error": "unauthorized", "message": "Bearer token missing or wrong"})
        referral = parse_referral(parse_json_object(request.body))
        outcome, current = self.store.put_referral(referral, last_touch=self.last_touch)
        body = self._after_store(referral, outcome, current, mirror=self.mirror_customers)
        return json_response(_STATUS[outcome], body)

    # -- the affiliate platform ------------------------------------------------------------
    def _platform(self, request: HttpRequest) -> dict[str, Any]:
        try:
            verify_partnero_signature(request.body, request.header("signature"), self.platform_secrets())
        except SignatureError as exc:
            obs.metrics.add_metric(name=obs.SIGNATURE_FAILURES, unit="Count", value=1)
            obs.logger.warning("platform webhook signature rejected", extra={"reason": exc.code})
            return json_response(400, {"error": exc.code, "message": exc.message})
        try:
            platform_event = parse_platform_event(parse_json_object(request.body))
        except MalformedEvent as exc:
            raise RequestRejected(400, "malformed_event", str(exc)) from exc
        if platform_event.action is PlatformAction.IGNORE:
            return json_response(200, {"outcome": "ignored", "event": platform_event.event})
        assert platform_event.customer_key
        try:
            validate_customer_key(platform_event.customer_key)
        except MalformedEvent as exc:
            raise RequestRejected(400, "malformed_event", str(exc)) from exc
        if platform_event.action is PlatformAction.DELETE:
            deleted = self.store.mark_deleted(platform_event.customer_key, platform_event.occurred_at_ms)
            _count(str(deleted))
            obs.logger.info(
                "platform deletion",
                extra={"outcome": str(deleted), "customer_key": loggable_key(platform_event.customer_key)},
            )
            return json_response(200, {"outcome": str(deleted)})
        assert platform_event.partner_key
        referral = Referral(
            customer_key=platform_event.customer_key,
            partner_key=platform_event.partner_key,
            email=platform_event.email,
            source="partnero",
        )
        try:
            validate_referral(referral)
        except MalformedEvent as exc:
            raise RequestRejected(400, "malformed_event", str(exc)) from exc
        # The platform's own reassignment (customer.updated) is authoritative.
        last_touch = self.last_touch or platform_event.event == "customer.updated"
        outcome, current = self.store.put_referral(
            referral, last_touch=last_touch, platform_at_ms=platform_event.occurred_at_ms
        )
        if outcome is ReferralOutcome.STALE:
            _count(str(outcome))
            obs.logger.info(
                "stale platform delivery: a newer one was applied; nothing changed",
                extra={"customer_key": loggable_key(referral.customer_key), "event": platform_event.event},
            )
            return json_response(200, {"outcome": str(outcome), "customer_key": referral.customer_key})
        body = self._after_store(referral, outcome, current, mirror=False)
        # The platform is told 200 even on a first-touch conflict: retrying cannot change it.
        return json_response(200, body)

    def _after_store(
        self, referral: Referral, outcome: ReferralOutcome, current: Referral, mirror: bool
    ) -> dict[str, Any]:
        _count(str(outcome))
        body: dict[str, Any] = {
            "outcome": str(outcome),
            "customer_key": current.customer_key,
            "partner_key": current.partner_key,
        }
        if outcome is ReferralOutcome.CONFLICT:
            body["message"] = "customer already referred by another partner (first touch wins)"
            obs.logger.warning(
                "referral conflict recorded",
                extra={
                    "customer_key": loggable_key(referral.customer_key),
                    "kept": current.partner_key,
                    "claimed": referral.partner_key,
                },
            )
            return body
        in_force = Referral(
            customer_key=current.customer_key,
            partner_key=current.partner_key,
            email=referral.email,
            stripe_customer_id=referral.stripe_customer_id or current.stripe_customer_id,
            paddle_customer_id=referral.paddle_customer_id or current.paddle_customer_id,
            source=current.source,
        )
        released = self.late.release(in_force, email=referral.email)
        # UNCHANGED too: when the enqueue failed after the referral was stored, the caller's
        # retry finds it unchanged and must still mirror it. A repeat costs nothing: SQS drops
        # the same message within five minutes, and the API answers "exists" after that.
        if outcome is ReferralOutcome.UPDATED and current.source != "partnero":
            # Last touch moved the customer here; the affiliate API still holds the old
            # partner (the platform's own customer.updated needs no move: it is the API).
            _count("reassigned")
            self.queue.send(
                customer_message(
                    current.customer_key,
                    current.partner_key,
                    referral.email,
                    f"reassign-{int(time.time())}",
                    reassigned_at=int(time.time()),
                )
            )
        if mirror and outcome in (ReferralOutcome.CREATED, ReferralOutcome.UNCHANGED):
            self.queue.send(customer_message(current.customer_key, current.partner_key, referral.email, "signup"))
        body["released_payments"] = released
        obs.logger.info(
            "referral stored",
            extra={
                "outcome": str(outcome),
                "customer_key": loggable_key(current.customer_key),
                "released_payments": released,
            },
        )
        return body
