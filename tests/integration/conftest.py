"""The handlers in-process against moto (mock_aws) and the Partnero sandbox on a real
loopback socket. Nothing of ours is mocked: the Lambda handlers, the Powertools batch
processor, the DynamoDB/SQS adapters and the HTTP client all run for real."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from affiliate_bridge_dev.event_source_mapping import EventSourceMapping
from affiliate_bridge_dev.handlers import Handler, load_handler
from affiliate_bridge_dev.lambda_events import FakeLambdaContext, function_url_event
from affiliate_bridge_dev.partnero_sandbox import SandboxServer, start_sandbox
from affiliate_bridge_dev.senders import (
    paddle_signature_header,
    partnero_signature_header,
    stripe_signature_header,
)
from affiliate_bridge_dev.template_resources import LocalResources, create_resources
from tests.integration import aws_calls

STRIPE_SECRET = "whsec_integration_secret"
PADDLE_SECRETS = "pdl_ntfset_sandbox_integration,pdl_ntfset_live_integration"
PARTNERO_KEY = "partnero-test-key"
PLATFORM_SECRET = "partnero-webhook-secret"
REFERRALS_TOKEN = "referrals-test-token"


@dataclass
class Bridge:
    resources: LocalResources
    sandbox: SandboxServer
    dynamodb: Any
    sqs: Any
    stripe: Handler
    paddle: Handler
    referrals: Handler
    forwarder: Handler
    mapping: EventSourceMapping

    def post_stripe(
        self, body: bytes | dict[str, Any], signature: str | None = "sign", **event_kwargs: Any
    ) -> dict[str, Any]:
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {"content-type": "application/json", "user-agent": "Stripe/1.0"}
        if signature == "sign":
            headers["stripe-signature"] = stripe_signature_header(raw, STRIPE_SECRET)
        elif signature is not None:
            headers["stripe-signature"] = signature
        event = function_url_event(event_kwargs.pop("method", "POST"), "/", raw, headers, **event_kwargs)
        response: dict[str, Any] = self.stripe(event, FakeLambdaContext("StripeWebhookFunction"))
        return response

    def post_paddle(
        self, body: bytes | dict[str, Any], signature: str | None = "sign", secret: str = "pdl_ntfset_live_integration"
    ) -> dict[str, Any]:
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {"content-type": "application/json", "user-agent": "Paddle"}
        if signature == "sign":
            headers["paddle-signature"] = paddle_signature_header(raw, secret)
        elif signature is not None:
            headers["paddle-signature"] = signature
        response: dict[str, Any] = self.paddle(
            function_url_event("POST", "/", raw, headers), FakeLambdaContext("PaddleWebhookFunction")
        )
        return response

    def add_referral(self, **body: str) -> dict[str, Any]:
        event = function_url_event(
            "POST",
            "/",
            json.dumps(body).encode(),
            {"content-type": "application/json", "authorization": f"Bearer {REFERRALS_TOKEN}"},
        )
        response: dict[str, Any] = self.referrals(event, FakeLambdaContext("ReferralsFunction"))
        return response

    def post_referral_raw(self, body: bytes, authorization: str | None, method: str = "POST") -> dict[str, Any]:
        headers = {"content-type": "application/json"}
        if authorization is not None:
            headers["authorization"] = authorization
        response: dict[str, Any] = self.referrals(
            function_url_event(method, "/", body, headers), FakeLambdaContext("ReferralsFunction")
        )
        return response

    def post_platform(self, body: dict[str, Any] | bytes, secret: str | None = PLATFORM_SECRET) -> dict[str, Any]:
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {"content-type": "application/json"}
        if secret is not None:
            headers["signature"] = partnero_signature_header(raw, secret)
        response: dict[str, Any] = self.referrals(
            function_url_event("POST", "/partnero", raw, headers), FakeLambdaContext("ReferralsFunction")
        )
        return response

    def drain(self, timeout: float = 20) -> None:
        self.mapping.drain(timeout_seconds=timeout)

    def sandbox_state(self) -> dict[str, Any]:
        state: dict[str, Any] = requests.get(self.sandbox.url + "/_sandbox/state", timeout=5).json()
        return state

    def active_transactions(self) -> dict[str, tuple[float, str]]:
        return {
            key: (t["amount"], t["customer"])
            for key, t in self.sandbox_state()["transactions"].items()
            if t["deleted_at"] is None
        }

    def inject_fault(self, status: int, count: int, retry_after: int | None = None) -> None:
        requests.post(
            self.sandbox.url + "/_sandbox/faults",
            json={"status": status, "count": count, "retry_after": retry_after},
            timeout=5,
        ).raise_for_status()

    def table_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.dynamodb.scan(TableName=self.resources.table_name)["Items"]
        return items

    def queue_depth(self, url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The least-privilege comparison runs last, so it sees every call the suite made."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/integration/test_least_privilege.py"))


@pytest.fixture(scope="session", autouse=True)
def record_aws_calls() -> Iterator[None]:
    """Attribute every AWS call a handler makes to its function (test_least_privilege)."""
    aws_calls.install()
    yield
    aws_calls.uninstall()


@pytest.fixture
def bridge(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Bridge]:
    sandbox = start_sandbox(PARTNERO_KEY)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        sqs = boto3.client("sqs")
        resources = create_resources(dynamodb, sqs, max_receive_count=3)
        aws_calls.name_resources(
            {
                resources.table_name: "ReferralsTable",
                resources.queue_url: "TransactionsQueue",
                resources.dead_letter_queue_url: "DeadLetterQueue",
            }
        )
        env = {
            "TABLE_NAME": resources.table_name,
            "QUEUE_URL": resources.queue_url,
            "DEAD_LETTER_QUEUE_URL": resources.dead_letter_queue_url,
            "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
            "PADDLE_WEBHOOK_SECRET": PADDLE_SECRETS,
            "PARTNERO_API_URL": sandbox.url,
            "PARTNERO_API_KEY": PARTNERO_KEY,
            "REFERRALS_API_TOKEN": REFERRALS_TOKEN,
            "PARTNERO_WEBHOOK_SECRET": PLATFORM_SECRET,
            "RETRY_BASE_SECONDS": "0",
            "RETRY_MAX_SECONDS": "0",
            "POWERTOOLS_METRICS_NAMESPACE": "AffiliateBridge",
        }
        marker = request.node.get_closest_marker("bridge_env")
        env.update(marker.kwargs if marker else {})
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        forwarder = aws_calls.recorded("ForwarderFunction", load_handler("forwarder"))
        yield Bridge(
            resources=resources,
            sandbox=sandbox,
            dynamodb=dynamodb,
            sqs=sqs,
            stripe=aws_calls.recorded("StripeWebhookFunction", load_handler("stripe_webhook")),
            paddle=aws_calls.recorded("PaddleWebhookFunction", load_handler("paddle_webhook")),
            referrals=aws_calls.recorded("ReferralsFunction", load_handler("referrals")),
            forwarder=forwarder,
            mapping=EventSourceMapping(sqs, resources.queue_url, forwarder, batch_size=resources.batch_size),
        )
    sandbox.shutdown()
    os.environ.pop("AWS_ENDPOINT_URL", None)
