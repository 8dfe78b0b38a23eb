"""Each function is granted exactly the AWS calls it makes, both ways, resource by resource.

The calls are recorded (tests/integration/aws_calls.py) while the integration suite runs,
as (IAM action, resource) per function. This module runs last (conftest orders it) and
adds what the rest of the suite cannot reach: the secrets read from Secrets Manager
(`X_ARN`, as in the cloud; elsewhere the tests set `X` itself), once with a value and once
created with none, as the template creates the provider-issued ones. Then the whole
record is compared with the template's policies: a call a function makes that its policy
does not grant fails here before it fails in AWS (AccessDenied), and a granted action
nobody makes is one to remove. Nothing is exempt, so there is no allow-list.

Out of scope: what SAM adds on its own (AWSLambdaBasicExecutionRole for logs, the X-Ray
write policy when tracing, the SQS poller policy of the forwarder's event source mapping,
which Lambda's service uses, not our code).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from affiliate_bridge_dev import paddle_samples as p
from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.lambda_events import FakeLambdaContext
from affiliate_bridge_dev.template_resources import load_template, policy_statements
from tests.integration import aws_calls
from tests.integration.conftest import (
    PADDLE_SECRETS,
    PARTNERO_KEY,
    PLATFORM_SECRET,
    REFERRALS_TOKEN,
    STRIPE_SECRET,
    Bridge,
)
from tests.integration.recovery_doubles import PADDLE_KEY as PADDLE_API_KEY
from tests.integration.recovery_doubles import STRIPE_KEY as STRIPE_API_KEY
from tests.integration.recovery_doubles import providers, reconciler
from tests.integration.test_reconciler_job import _outage

FUNCTIONS = (
    "StripeWebhookFunction",
    "PaddleWebhookFunction",
    "ReferralsFunction",
    "ForwarderFunction",
    "ReconcilerFunction",
)
SECRET_VALUES = {
    "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
    "PADDLE_WEBHOOK_SECRET": PADDLE_SECRETS,
    "PARTNERO_WEBHOOK_SECRET": PLATFORM_SECRET,
    "REFERRALS_API_TOKEN": REFERRALS_TOKEN,
    "PARTNERO_API_KEY": PARTNERO_KEY,
    "STRIPE_API_KEY": STRIPE_API_KEY,
    "PADDLE_API_KEY": PADDLE_API_KEY,
}
TEMPLATE = load_template()
Grants = dict[str, set[aws_calls.Call]]


def _logical_id(resource: Any) -> str:
    """!GetAtt X.Arn / !Ref X -> "X"; !Sub "${X.Arn}/index/I" -> "X/index/I"."""
    if isinstance(resource, dict) and set(resource) == {"GetAtt"} and resource["GetAtt"].endswith(".Arn"):
        return str(resource["GetAtt"]).removesuffix(".Arn")
    if isinstance(resource, dict) and set(resource) == {"Ref"}:
        return str(resource["Ref"])
    if isinstance(resource, dict) and set(resource) == {"Sub"} and str(resource["Sub"]).startswith("${"):
        head, _, tail = str(resource["Sub"])[2:].partition("}")
        return head.removesuffix(".Arn") + tail
    raise AssertionError(f"a policy resource this test cannot name: {resource!r} (extend _logical_id)")


def granted(template: dict[str, Any]) -> Grants:
    # A managed policy or a SAM policy template would grant what this test cannot see:
    # policy_statements refuses them.
    statements = policy_statements(template)
    grants: Grants = {}
    for name in FUNCTIONS:
        pairs: set[aws_calls.Call] = set()
        for statement in statements[name]:
            assert statement["Effect"] == "Allow" and set(statement) <= {"Sid", "Effect", "Action", "Resource"}
            pairs.update(
                (action, _logical_id(resource)) for action in statement["Action"] for resource in statement["Resource"]
            )
        grants[name] = pairs
    return grants


def differences(grants: Grants, recorded: Grants) -> list[str]:
    problems = []
    for name in FUNCTIONS:
        for action, resource in sorted(recorded.get(name, set()) - grants[name]):
            problems.append(f"{name} calls {action} on {resource}, which its policy does not grant")
        for action, resource in sorted(grants[name] - recorded.get(name, set())):
            problems.append(f"{name} is granted {action} on {resource}, which it never calls")
    return problems


def table(recorded: Grants) -> str:
    return "\n".join(
        f"{name:24} {action:34} {resource}"
        for name in FUNCTIONS
        for action, resource in sorted(recorded.get(name, set()))
    )


def _secret_logical_ids() -> dict[str, str]:
    """STRIPE_WEBHOOK_SECRET -> StripeWebhookSecret, from the functions' X_ARN variables."""
    ids = {}
    for name in FUNCTIONS:
        variables = TEMPLATE["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
        ids.update({v.removesuffix("_ARN"): _logical_id(ref) for v, ref in variables.items() if v.endswith("_ARN")})
    assert set(ids) == set(SECRET_VALUES)
    return ids


def _secrets_from_secrets_manager(monkeypatch: pytest.MonkeyPatch, prefix: str, with_values: bool) -> None:
    """Every secret read through its ARN, as in the cloud; with no value = as the template
    creates the provider-issued ones."""
    client = boto3.client("secretsmanager")
    logical_ids = _secret_logical_ids()
    for name, value in SECRET_VALUES.items():
        extra = {"SecretString": value} if with_values else {}
        arn = client.create_secret(Name=f"{prefix}/{name}", **extra)["ARN"]
        aws_calls.name_resources({arn: logical_ids[name]})
        monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(f"{name}_ARN", arn)


def _walk_every_path(bridge: Bridge) -> None:
    """One of each thing each function does, so every call it can make is made."""
    bridge.add_referral(customer_key="lp-1", partner_key="ann", email="lp1@example.com", stripe_customer_id="cus_lp1")
    # Stripe: attributed sale, an unattributed one (parked), a link, a refund, an ignored event.
    sale = s.checkout_session(amount_total=5000, customer="cus_lp1")
    bridge.post_stripe(s.event("checkout.session.completed", sale))
    early = s.checkout_session(amount_total=700, customer="cus_lp2", email="lp2@example.com")
    bridge.post_stripe(s.event("checkout.session.completed", early))
    invoice = s.invoice(amount_paid=900, customer="cus_lp1")
    bridge.post_stripe(s.event("invoice.paid", invoice))
    # A refund before its link: filed under the payment intent, then moved by the forwarder.
    bridge.post_stripe(s.event("charge.refunded", s.charge(amount=900, amount_refunded=300, payment_intent="pi_lp")))
    bridge.drain()
    bridge.post_stripe(
        s.event(
            "invoice_payment.paid", s.invoice_payment(invoice_id=invoice["id"], payment_intent="pi_lp", amount_paid=900)
        )
    )
    bridge.post_stripe(
        s.event("charge.refunded", s.charge(amount=5000, amount_refunded=100, payment_intent=sale["payment_intent"]))
    )
    # Paddle: a customer's email, a sale.
    bridge.post_paddle(p.notification("customer.created", p.customer(customer_id="ctm_lp", email="lp3@example.com")))
    bridge.add_referral(customer_key="lp-3", partner_key="fay", paddle_customer_id="ctm_lp")
    bridge.post_paddle(p.notification("transaction.completed", p.transaction(total=4900, customer_id="ctm_lp")))
    # Referrals: a late referral releases the parked payment; the platform creates, reassigns,
    # deletes, and a stale delivery is recorded.
    bridge.add_referral(customer_key="lp-2", partner_key="bob", stripe_customer_id="cus_lp2")
    for event, at, partner in (
        ("customer.created", "2026-11-23T10:00:00Z", "cat"),
        ("customer.updated", "2026-11-23T11:00:00Z", "dan"),
        ("customer.updated", "2026-11-23T10:30:00Z", "eve"),
        ("customer.deleted", "2026-11-23T12:00:00Z", None),
    ):
        data: dict[str, Any] = {"key": "lp-plat", "email": "lp4@example.com"}
        if partner:
            data["partner"] = partner
        bridge.post_platform({"event": event, "created_at": at, "data": data})
    # Forwarder: a busy API (backoff), a permanent refusal (dead letter), then the rest.
    bridge.inject_fault(503, count=1, retry_after=0)
    bridge.mapping.poll_once()
    bridge.inject_fault(403, count=1)
    bridge.drain()


def test_every_path_with_the_secrets_from_secrets_manager(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    _secrets_from_secrets_manager(monkeypatch, "least-privilege", with_values=True)
    _walk_every_path(bridge)
    assert bridge.sandbox_state()["transactions"], "the scenario forwarded nothing"
    # ReconcilerFunction: an outage recovered from both providers' APIs, a drift fixed.
    with providers(bridge) as apis:
        _outage(bridge, apis, monkeypatch)
        apis.doorway_up.set()
        # Each function runs in its own Lambda process: nothing the forwarder cached here.
        parameters.clear_caches()  # type: ignore[no-untyped-call]
        report = reconciler(monkeypatch, apis, RECONCILE_FIX="true")({}, FakeLambdaContext("ReconcilerFunction"))
    assert report["stripe"]["recovered"] == 3 and report["reconcile"]["fixed"] >= 1, report


def test_secrets_created_without_a_value_are_not_configured(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    """The template creates the provider-issued secrets with no value: each function that
    needs one refuses to work (the senders retry; the forwarder keeps the message)."""
    # A referred sale in the queue first, while the secrets are still set.
    bridge.add_referral(customer_key="nc-1", partner_key="ann", stripe_customer_id="cus_nc1")
    bridge.post_stripe(s.event("checkout.session.completed", s.checkout_session(amount_total=5000, customer="cus_nc1")))
    assert bridge.queue_depth() == 1
    _secrets_from_secrets_manager(monkeypatch, "created-empty", with_values=False)
    for response in (
        bridge.post_stripe(s.event("checkout.session.completed", s.checkout_session(amount_total=100))),
        bridge.post_paddle(p.notification("transaction.completed", p.transaction(total=100))),
        bridge.add_referral(customer_key="nc-2", partner_key="bob"),
        bridge.post_platform({"event": "customer.created", "created_at": "2026-11-23T10:00:00Z", "data": {"key": "x"}}),
    ):
        assert response["statusCode"] == 500 and json.loads(response["body"])["error"] == "not_configured", response
    bridge.mapping.poll_once()
    assert bridge.sandbox_state()["transactions"] == {}
    assert bridge.queue_depth() == 1 and bridge.queue_depth(bridge.resources.dead_letter_queue_url) == 0


def test_the_recorder_attributes_calls_to_the_function_being_invoked() -> None:
    saved = {name: set(calls) for name, calls in aws_calls.CALLS.items()}
    try:
        with mock_aws():
            sqs = boto3.client("sqs")
            url = sqs.create_queue(QueueName="recorder-self-check")["QueueUrl"]  # by the test: not recorded
            aws_calls.name_resources({url: "SelfCheckQueue"})
            with aws_calls.calls_by("SelfCheckFunction"):
                sqs.send_message(QueueUrl=url, MessageBody="x")
                boto3.client("dynamodb").list_tables()
            assert aws_calls.CALLS["SelfCheckFunction"] == {
                ("sqs:SendMessage", "SelfCheckQueue"),
                ("dynamodb:ListTables", "*"),
            }
    finally:
        aws_calls.CALLS.clear()
        aws_calls.CALLS.update(saved)


def test_the_comparison_catches_a_difference_either_way() -> None:
    grants = {name: {("dynamodb:GetItem", "ReferralsTable")} for name in FUNCTIONS}
    recorded = {name: {("dynamodb:GetItem", "ReferralsTable")} for name in FUNCTIONS}
    assert differences(grants, recorded) == []
    recorded["ForwarderFunction"].add(("dynamodb:Query", "ReferralsTable"))
    grants["ReferralsFunction"].add(("sqs:PurgeQueue", "TransactionsQueue"))
    recorded["StripeWebhookFunction"].add(("sqs:SendMessage", "DeadLetterQueue"))  # right action, wrong resource
    assert sorted(differences(grants, recorded)) == [
        "ForwarderFunction calls dynamodb:Query on ReferralsTable, which its policy does not grant",
        "ReferralsFunction is granted sqs:PurgeQueue on TransactionsQueue, which it never calls",
        "StripeWebhookFunction calls sqs:SendMessage on DeadLetterQueue, which its policy does not grant",
    ]
    assert (
        _logical_id({"Sub": "${ReferralsTable.Arn}/index/ByTransactionKey"}) == "ReferralsTable/index/ByTransactionKey"
    )
    with pytest.raises(AssertionError):
        _logical_id("*")


def test_each_function_is_granted_exactly_the_calls_it_makes() -> None:
    """Last of the session: everything the tests above (and the whole suite) recorded."""
    recorded = {name: set(aws_calls.CALLS.get(name, set())) for name in FUNCTIONS}
    problems = differences(granted(TEMPLATE), recorded)
    assert problems == [], "\n".join(problems) + "\nrecorded:\n" + table(recorded)
