"""One provider webhook request, from function URL event to HTTP answer.

The same for every payment provider: the provider object (``providers.base``) verifies
and reads, the intake use case decides. Status codes are decided here, in one place:

* 400: bad signature (nothing stored), bad base64, non-JSON, or a signed event without
  the fields its type needs (recorded in the ledger when the event id is readable);
* 405: not POST; 413: body over MAX_BODY_BYTES;
* 200: accepted (enqueued, linked, unattributed, zero amount, or ignored, each recorded);
* 500: our side failed (configuration, DynamoDB, SQS): the provider retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from affiliate_bridge.attribution.intake import Intake, IntakeResult, Outcome
from affiliate_bridge.domain.identity import truncated_ip
from affiliate_bridge.domain.validation import is_valid_id, validate_event
from affiliate_bridge.edge import observability as obs
from affiliate_bridge.edge.function_url import (
    json_response,
    parse_event,
    parse_json_object,
    rejection_response,
    require_post,
)
from affiliate_bridge.errors import (
    ConfigurationError,
    MalformedEvent,
    RequestRejected,
    SecretNotConfigured,
    SignatureError,
)
from affiliate_bridge.providers.base import WebhookProvider

_OUTCOME_METRICS = {
    Outcome.ENQUEUED: obs.ENQUEUED,
    Outcome.UNATTRIBUTED: obs.UNATTRIBUTED,
    Outcome.SKIPPED_ZERO_AMOUNT: obs.SKIPPED_ZERO,
    Outcome.IGNORED: obs.IGNORED,
}


def not_configured_response(exc: ConfigurationError) -> dict[str, Any]:
    """500, so the provider keeps retrying until the operator fixes the deployment; an
    unusable secret is also counted under its name for the alarm that names it."""
    if isinstance(exc, SecretNotConfigured):
        obs.count_secret_not_configured(exc.name)
    obs.logger.error("not configured: answering 500 so the sender retries", extra={"detail": str(exc)})
    return json_response(500, {"error": "not_configured", "message": "try again later"})


@dataclass(frozen=True)
class WebhookEndpoint:
    provider: WebhookProvider
    intake: Intake
    max_body_bytes: int

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        obs.metrics.add_dimension(name="provider", value=self.provider.name)
        try:
            request = parse_event(event, self.max_body_bytes)
            require_post(request)
            try:
                self.provider.verify(request)
            except ConfigurationError as exc:
                return not_configured_response(exc)
            except SignatureError as exc:
                obs.metrics.add_metric(name=obs.SIGNATURE_FAILURES, unit="Count", value=1)
                obs.logger.warning(
                    "signature rejected", extra={"reason": exc.code, "source_network": truncated_ip(request.source_ip)}
                )
                return json_response(400, {"error": exc.code, "message": exc.message})
            payload = parse_json_object(request.body)
        except RequestRejected as exc:
            obs.metrics.add_metric(name=obs.REJECTED, unit="Count", value=1)
            obs.logger.warning("request rejected", extra={"reason": exc.code, "status": exc.status})
            return rejection_response(exc)

        obs.metrics.add_metric(name=obs.RECEIVED, unit="Count", value=1)
        event_id = self.provider.event_id(payload)
        if event_id:
            obs.logger.set_correlation_id(event_id)
        try:
            normalised = self.provider.normalise(payload)
            validate_event(normalised)
        except MalformedEvent as exc:
            obs.metrics.add_metric(name=obs.REJECTED, unit="Count", value=1)
            obs.logger.warning("event rejected", extra={"reason": "malformed_event", "detail": str(exc)})
            if is_valid_id(event_id):
                assert event_id is not None
                self._record_rejection(payload, event_id, str(exc))
            return json_response(400, {"error": "malformed_event", "message": str(exc)})

        obs.logger.append_keys(event_type=normalised.event_type)
        try:
            result = self.intake.accept(normalised)
        except Exception:
            obs.metrics.add_metric(name=obs.ENQUEUE_FAILURES, unit="Count", value=1)
            obs.logger.exception("event not accepted: answering 500 so the provider retries")
            return json_response(500, {"error": "internal_error", "message": "try again later"})
        return self._accepted(result)

    def _record_rejection(self, payload: Mapping[str, Any], event_id: str, reason: str) -> None:
        named_type = self.provider.event_type(payload)
        event_type = named_type if is_valid_id(named_type) and named_type else "unknown"
        try:
            self.intake.ledger.record_rejection(self.provider.name, event_id, event_type, reason)
        except Exception:  # the 400 stands; the ledger entry is only for explain
            obs.logger.exception("could not record the rejected event")

    def _accepted(self, result: IntakeResult) -> dict[str, Any]:
        metric = _OUTCOME_METRICS.get(result.outcome)
        if metric:
            obs.metrics.add_metric(name=metric, unit="Count", value=1)
        if result.attribution and result.attribution.attributed:
            obs.metrics.add_metric(name=obs.ATTRIBUTED, unit="Count", value=1)
        obs.logger.info(
            "event accepted",
            extra={
                "outcome": str(result.outcome),
                "transaction_key": result.transaction_key,
                "message_id": result.message_id,
                "attribution_rule": str(result.attribution.rule)
                if result.attribution and result.attribution.rule
                else None,
                "attribution_trail": list(result.attribution.tried) if result.attribution else None,
                "reason": result.reason,
            },
        )
        body = {"outcome": str(result.outcome)}
        if result.transaction_key:
            body["transaction_key"] = result.transaction_key
        if result.reason:
            body["reason"] = result.reason
        return json_response(200, body)
