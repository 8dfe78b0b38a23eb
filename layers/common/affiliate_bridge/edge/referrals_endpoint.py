"""The referrals function: who referred whom, from your backend or from the platform.

``POST /referrals`` (any path but ``/partnero``): your backend after signup, body
``{"customer_key", "partner_key", "email"?, "<provider>_customer_id"?}`` (one id field per
payment provider: ``stripe_customer_id``, ``paddle_customer_id``)
with ``Authorization: Bearer <REFERRALS_API_TOKEN>`` compared in constant time. Answers
201 created, 200 unchanged or updated, 409 when first touch keeps an existing, different
partner (the body names it; the claim is recorded), 400/401/405/413 for bad requests.

``POST /partnero``: the affiliate platform's ``customer.created/updated/deleted``
webhooks, verified by their ``Signature`` header. Created follows first touch like the
backend call; updated is the platform's own reassignment and wins; deleted stops
attribution for that customer.

What happens after a referral is stored is the use case's (``attribution.referrals``);
this module turns HTTP into referrals and outcomes into answers, metrics and logs.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from affiliate_bridge.attribution.referrals import ReferralIntake, ReferralResult
from affiliate_bridge.domain.identity import loggable_key
from affiliate_bridge.domain.referrals import Referral, ReferralOutcome
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
from affiliate_bridge.providers.partnero.webhook import (
    PLATFORM,
    PlatformAction,
    parse_platform_event,
    verify_partnero_signature,
)

MAX_FIELD_LENGTH = 256
REFERRALS_BODY_LIMIT = 65_536
PLATFORM_PATH_SUFFIX = f"/{PLATFORM}"
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


def parse_referral(body: Mapping[str, Any], providers: tuple[str, ...], source: str = "api") -> Referral:
    """The backend's JSON body; ``providers`` names the payment providers whose customer
    ids it may carry (``<provider>_customer_id``)."""

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

    customer_ids = ((provider, text(f"{provider}_customer_id", False)) for provider in providers)
    referral = Referral(
        customer_key=text("customer_key", True) or "",
        partner_key=text("partner_key", True) or "",
        email=text("email", False),
        provider_customer_ids=tuple((provider, value) for provider, value in customer_ids if value),
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
    referrals: ReferralIntake
    tokens: Callable[[], tuple[str, ...]]
    platform_secrets: Callable[[], tuple[str, ...]]
    providers: tuple[str, ...]  # payment providers whose customer ids a referral may carry

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
        referral = parse_referral(parse_json_object(request.body), self.providers)
        result = self.referrals.from_backend(referral)
        return json_response(_STATUS[result.outcome], self._answer(referral, result))

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
            if platform_event.action is PlatformAction.IGNORE:
                return json_response(200, {"outcome": "ignored", "event": platform_event.event})
            assert platform_event.customer_key
            validate_customer_key(platform_event.customer_key)
            if platform_event.action is PlatformAction.DELETE:
                deleted = self.referrals.platform_deleted(
                    platform_event.customer_key, platform_event.occurred_at_ms, PLATFORM
                )
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
                source=PLATFORM,
            )
            validate_referral(referral)
        except MalformedEvent as exc:
            raise RequestRejected(400, "malformed_event", str(exc)) from exc
        result = self.referrals.from_platform(
            referral, platform_event.occurred_at_ms, reassignment=platform_event.event == "customer.updated"
        )
        if result.outcome is ReferralOutcome.STALE:
            _count(str(result.outcome))
            obs.logger.info(
                "stale platform delivery: a newer one was applied; nothing changed",
                extra={"customer_key": loggable_key(referral.customer_key), "event": platform_event.event},
            )
            return json_response(200, {"outcome": str(result.outcome), "customer_key": referral.customer_key})
        # The platform is told 200 even on a first-touch conflict: retrying cannot change it.
        return json_response(200, self._answer(referral, result))

    @staticmethod
    def _answer(referral: Referral, result: ReferralResult) -> dict[str, Any]:
        _count(str(result.outcome))
        current = result.current
        body: dict[str, Any] = {
            "outcome": str(result.outcome),
            "customer_key": current.customer_key,
            "partner_key": current.partner_key,
        }
        if result.outcome is ReferralOutcome.CONFLICT:
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
        if result.reassigned:
            _count("reassigned")
        body["released_payments"] = list(result.released)
        obs.logger.info(
            "referral stored",
            extra={
                "outcome": str(result.outcome),
                "customer_key": loggable_key(current.customer_key),
                "released_payments": list(result.released),
            },
        )
        return body
