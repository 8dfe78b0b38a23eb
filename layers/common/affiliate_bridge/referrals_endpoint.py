"""``POST /referrals``: the merchant's backend records customer -> partner after signup.

Body: ``{"customer_key", "partner_key", "email"?, "stripe_customer_id"?,
"paddle_customer_id"?}`` with ``Authorization: Bearer <REFERRALS_API_TOKEN>``, compared in
constant time. Answers 201 created, 200 unchanged/updated, 409 when first touch keeps an
existing, different partner (the body names it), 400/401/405/413 for bad requests.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from affiliate_bridge import observability as obs
from affiliate_bridge.domain import Referral
from affiliate_bridge.function_url import (
    HttpRequest,
    RequestRejected,
    json_response,
    parse_event,
    parse_json_object,
    rejection_response,
    require_post,
)
from affiliate_bridge.referrals_store import ReferralOutcome, ReferralsStore
from affiliate_bridge.secrets import resolve_secret
from affiliate_bridge.settings import ConfigurationError, Settings

MAX_FIELD_LENGTH = 256
REFERRALS_BODY_LIMIT = 16_384
_STATUS = {
    ReferralOutcome.CREATED: 201,
    ReferralOutcome.UNCHANGED: 200,
    ReferralOutcome.UPDATED: 200,
    ReferralOutcome.CONFLICT: 409,
}


def _authorised(request: HttpRequest, token: str) -> bool:
    header = request.header("authorization") or ""
    scheme, _, presented = header.partition(" ")
    # compare_digest on bytes of possibly different lengths is still constant-time in
    # the content; the scheme check leaks only whether "Bearer" was used.
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


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

    email = text("email", False)
    if email is not None and "@" not in email:
        raise RequestRejected(400, "invalid_field", "email is not an email address")
    return Referral(
        customer_key=text("customer_key", True) or "",
        partner_key=text("partner_key", True) or "",
        email=email,
        stripe_customer_id=text("stripe_customer_id", False),
        paddle_customer_id=text("paddle_customer_id", False),
        source=source,
    )


@dataclass(frozen=True)
class ReferralsEndpoint:
    store: ReferralsStore
    token: Any  # Callable[[], str]
    last_touch: bool = False

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            request = parse_event(event, REFERRALS_BODY_LIMIT)
            require_post(request)
            try:
                token = self.token()
            except ConfigurationError:
                obs.logger.exception("referrals token not configured")
                return json_response(500, {"error": "not_configured", "message": "try again later"})
            if not _authorised(request, token):
                obs.metrics.add_dimension(name="outcome", value="unauthorized")
                obs.metrics.add_metric(name=obs.REFERRALS, unit="Count", value=1)
                return json_response(401, {"error": "unauthorized", "message": "Bearer token missing or wrong"})
            referral = parse_referral(parse_json_object(request.body))
        except RequestRejected as exc:
            obs.metrics.add_dimension(name="outcome", value="rejected")
            obs.metrics.add_metric(name=obs.REFERRALS, unit="Count", value=1)
            obs.logger.warning("referral rejected", extra={"reason": exc.code})
            return rejection_response(exc)
        try:
            outcome, current = self.store.put_referral(referral, last_touch=self.last_touch)
        except Exception:
            obs.logger.exception("referral not stored")
            return json_response(500, {"error": "internal_error", "message": "try again later"})
        obs.metrics.add_dimension(name="outcome", value=str(outcome))
        obs.metrics.add_metric(name=obs.REFERRALS, unit="Count", value=1)
        obs.logger.info("referral stored", extra={"outcome": str(outcome), "customer_key": referral.customer_key})
        body: dict[str, Any] = {
            "outcome": str(outcome),
            "customer_key": current.customer_key,
            "partner_key": current.partner_key,
        }
        if outcome is ReferralOutcome.CONFLICT:
            body["message"] = "customer already referred by another partner (first touch wins)"
        return json_response(_STATUS[outcome], body)


def build_referrals_endpoint(settings: Settings, dynamodb: Any) -> ReferralsEndpoint:
    settings.require("table_name")
    return ReferralsEndpoint(
        store=ReferralsStore(dynamodb, settings.table_name),
        token=lambda: resolve_secret("REFERRALS_API_TOKEN"),
        last_touch=settings.attribution_last_touch,
    )
