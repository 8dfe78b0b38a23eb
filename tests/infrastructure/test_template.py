"""The template itself: the properties the design depends on, checked without AWS.

`sam validate --lint` (make validate, CI) checks that it is valid; these check that it
says what the code assumes: names of environment variables, the TTL attribute, FIFO,
partial batch responses, least privilege.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from affiliate_bridge import wiring
from affiliate_bridge.edge import secrets
from affiliate_bridge.edge.function_url import HttpRequest
from affiliate_bridge.edge.settings import Settings
from affiliate_bridge.errors import SignatureError
from affiliate_bridge.storage import keys
from affiliate_bridge_dev.template_resources import load_template, policy_statements, queue_settings

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
PUBLIC = {"StripeWebhookFunction", "PaddleWebhookFunction", "ReferralsFunction"}


def _env(function: str) -> dict[str, Any]:
    merged = dict(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    merged.update(FUNCTIONS[function].get("Environment", {}).get("Variables", {}))
    return merged


STATEMENTS = policy_statements(TEMPLATE)  # Action and Resource as lists


def _statements(function: str) -> list[dict[str, Any]]:
    return STATEMENTS[function]


def test_every_function_and_only_those_have_a_handler_directory() -> None:
    directories = {p.name for p in (Path(__file__).resolve().parents[2] / "functions").iterdir() if p.is_dir()}
    assert {FUNCTIONS[f]["CodeUri"].strip("/").split("/")[-1] for f in FUNCTIONS} == directories


def test_public_functions_have_urls_and_reserved_concurrency() -> None:
    for name, props in FUNCTIONS.items():
        if name in PUBLIC:
            assert props["FunctionUrlConfig"]["AuthType"] == "NONE"
            assert "ReservedConcurrentExecutions" in props
        else:
            assert "FunctionUrlConfig" not in props


def test_queue_is_fifo_with_redrive_and_partial_batch_responses() -> None:
    settings = queue_settings(TEMPLATE)
    assert settings["fifo"] and settings["dead_letter_fifo"] and settings["report_batch_item_failures"]
    assert not settings["content_based_deduplication"]  # we set our own deduplication ids
    forwarder_timeout = FUNCTIONS["ForwarderFunction"]["Timeout"]
    assert settings["visibility_timeout"] >= 6 * forwarder_timeout  # Lambda's guidance for SQS sources


def test_table_has_ttl_on_the_attribute_the_code_writes_and_pitr() -> None:
    table = RESOURCES["ReferralsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["TimeToLiveSpecification"]["AttributeName"] == keys.TTL_ATTRIBUTE
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == [keys.TRANSACTION_KEY_INDEX]


class _RecordingEnv(dict[str, str]):
    """os.environ as the function sees it, remembering every name the code asks for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return super().get(name, default)

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        self.read.add(str(name))
        return super().__contains__(name)


def _serve_once(function: str) -> None:
    """Build the function as its app.py does and make it read each secret it uses."""
    clients = (boto3.client("dynamodb", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1"))
    settings = Settings.from_env()
    if function in ("StripeWebhookFunction", "PaddleWebhookFunction"):
        provider = "stripe" if function.startswith("Stripe") else "paddle"
        endpoint = wiring.build_webhook_endpoint(provider, settings, *clients)
        with pytest.raises(SignatureError):
            endpoint.provider.verify(HttpRequest("POST", "/", {}, b"{}", "127.0.0.1"))
    elif function == "ReferralsFunction":
        referrals = wiring.build_referrals_endpoint(settings, *clients)
        referrals.tokens()
        referrals.platform_secrets()
    elif function == "ReconcilerFunction":
        job = wiring.build_reconciler_job(settings, *clients)
        secrets.resolve_secret("STRIPE_API_KEY")
        secrets.resolve_secret("PADDLE_API_KEY")
        job.reconciler.api._api_key()  # type: ignore[attr-defined]
    else:
        batch = wiring.build_forwarder_batch(settings, *clients)
        batch.forwarder.api._api_key()  # type: ignore[attr-defined]


def _deployed_value(value: Any) -> str:
    """A parameter's default stands for what CloudFormation passes; any other reference
    (a queue URL, a table name, an ARN) for some non-empty string."""
    if isinstance(value, dict) and "Ref" in value and value["Ref"] in TEMPLATE.get("Parameters", {}):
        return str(TEMPLATE["Parameters"][value["Ref"]].get("Default", "1"))
    return str(value) if not isinstance(value, dict) else "arn:aws:deployed-reference"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_environment_variable_is_read_by_the_function(function: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Behaviour, not source text: the function is built from the template's environment
    and serves a request; every variable the template sets must have been read."""
    values = {name: _deployed_value(value) for name, value in _env(function).items()}
    env = _RecordingEnv(
        {**values, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    )
    secrets_read: set[str] = set()

    def read_secret(name: str, given: Any) -> str:
        secrets_read.add(name)
        env.get(f"{name}_ARN")
        return "whsec_test_fixture_value_only"

    monkeypatch.setattr(os, "environ", env)
    monkeypatch.setattr(secrets, "_read", read_secret)
    _serve_once(function)
    unread = {
        name for name in values if not name.startswith("POWERTOOLS_") and name not in env.read and name != "LOG_LEVEL"
    }
    assert not unread, f"{function}: {sorted(unread)} set by the template, read by nothing"
    arns = {name.removesuffix("_ARN") for name in values if name.endswith("_ARN")}
    assert secrets_read == arns, f"{function}: reads {sorted(secrets_read)}, template grants {sorted(arns)}"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_secret_a_function_reads_is_one_it_may_read(function: str) -> None:
    env = _env(function)
    allowed: list[Any] = []
    for statement in _statements(function):
        if "secretsmanager:GetSecretValue" in statement["Action"]:
            allowed.extend(statement["Resource"])
    referenced = [value for name, value in env.items() if name.endswith("_ARN")]
    assert sorted(map(str, referenced)) == sorted(map(str, allowed))


def test_least_privilege_no_wildcards_and_named_resources() -> None:
    for function in FUNCTIONS:
        for statement in _statements(function):
            actions = statement["Action"]
            assert all("*" not in action for action in actions), (function, actions)
            assert "*" not in statement["Resource"], function
            assert not any(a in ("dynamodb:DeleteTable", "sqs:DeleteQueue") for a in actions)
            # Only reconcile reads every payment state (a scan, hourly at most).
            assert "dynamodb:Scan" not in actions or function == "ReconcilerFunction", function


def test_webhook_functions_cannot_touch_the_affiliate_api_key() -> None:
    for function in ("StripeWebhookFunction", "PaddleWebhookFunction"):
        assert "PARTNERO_API_KEY_ARN" not in _env(function)
        assert all("Partnero" not in str(s["Resource"]) for s in _statements(function))


def test_alarms_can_publish_to_the_topic() -> None:
    """CloudWatch cannot use the AWS managed key aws/sns (its key policy is fixed), so an
    alarm topic encrypted with it silently drops every notification."""
    topic = RESOURCES["AlarmTopic"]["Properties"]
    assert "aws/sns" not in str(topic.get("KmsMasterKeyId", ""))


def test_alarms_notify_the_topic_and_cover_the_failure_modes() -> None:
    alarms = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert all(p["AlarmActions"] == [{"Ref": "AlarmTopic"}] for p in alarms.values())
    metrics = {p["MetricName"] for p in alarms.values() if "MetricName" in p}
    metrics |= {
        m["MetricStat"]["Metric"]["MetricName"]
        for p in alarms.values()
        for m in p.get("Metrics", [])
        if "MetricStat" in m
    }
    assert {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "Errors",
        "Throttles",
        "SignatureFailures",
        "SecretNotConfigured",
        "ForwardErrors",
    } <= metrics


SECRET_NAMES = (
    "STRIPE_WEBHOOK_SECRET",
    "PADDLE_WEBHOOK_SECRET",
    "PARTNERO_WEBHOOK_SECRET",
    "REFERRALS_API_TOKEN",
    "PARTNERO_API_KEY",
)
# Read only by ReconcilerFunction, which skips a provider whose key is not set (a
# Stripe-only shop sets only the Stripe key): optional, so no alarm.
OPTIONAL_SECRET_NAMES = ("STRIPE_API_KEY", "PADDLE_API_KEY")


def test_no_secret_starts_with_a_value_anybody_can_know() -> None:
    secrets = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::SecretsManager::Secret"}
    assert len(secrets) == len(SECRET_NAMES) + len(OPTIONAL_SECRET_NAMES)
    for name, properties in secrets.items():
        assert "SecretString" not in properties, name  # none, or generated below
        if "GenerateSecretString" in properties:
            assert properties["GenerateSecretString"]["PasswordLength"] >= 32, name


def test_every_secret_the_code_reads_has_an_alarm_naming_it() -> None:
    """The functions count SecretNotConfigured with exactly these dimensions
    (observability.count_secret_not_configured); an alarm must match them exactly."""
    watched = {}
    for resource in RESOURCES.values():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::CloudWatch::Alarm" and properties.get("MetricName") == "SecretNotConfigured":
            dimensions = {d["Name"]: d["Value"] for d in properties["Dimensions"]}
            assert set(dimensions) == {"service", "secret"}
            assert dimensions["service"] == "affiliate-bridge"
            watched[dimensions["secret"]] = properties
    assert set(watched) == set(SECRET_NAMES)
    secret_ids = _secret_logical_ids()
    for name, properties in watched.items():
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert properties["TreatMissingData"] == "notBreaching"
        assert (properties["Statistic"], properties["Period"], properties["EvaluationPeriods"]) == ("Sum", 300, 1)
        assert (properties["ComparisonOperator"], properties["Threshold"]) == ("GreaterThanThreshold", 0)
        # It names the secret and the command that sets it, with that secret's ARN filled
        # in (!Sub) and the stack output that prints the same ARN.
        description = properties["AlarmDescription"]["Sub"]
        secret = secret_ids[name]
        assert description.startswith(f"{name}: "), name
        assert f"aws secretsmanager put-secret-value --secret-id ${{{secret}}} --secret-string" in description, name
        assert f"stack output {secret}Arn" in description and TEMPLATE["Outputs"][f"{secret}Arn"]["Value"] == {
            "Ref": secret
        }
        assert len(description) <= 1024  # CloudWatch's limit


def _secret_logical_ids() -> dict[str, str]:
    """STRIPE_WEBHOOK_SECRET -> StripeWebhookSecret, as the functions read them (X_ARN)."""
    ids = {}
    for function in FUNCTIONS:
        for name, value in _env(function).items():
            if name.endswith("_ARN"):
                ids[name.removesuffix("_ARN")] = value["Ref"]
    assert set(ids) == set(SECRET_NAMES) | set(OPTIONAL_SECRET_NAMES)
    return ids


def _dashboard_metrics() -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric, dimensions) of every metric the dashboard draws, with the
    "." shorthand (same as the row above) expanded."""
    body = re.sub(r"\$\{[^}]+\}", "x", TEMPLATE["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Sub"])
    found = []
    for widget in json.loads(body)["widgets"]:
        previous: list[str] = []
        for row in widget["properties"].get("metrics", []):
            fields = [f for f in row if isinstance(f, str)]
            if not fields:  # a metric math expression (SEARCH): no dimensions to check
                continue
            fields = [previous[i] if f == "." and i < len(previous) else f for i, f in enumerate(fields)]
            previous = fields
            found.append((fields[0], fields[1], dict(zip(fields[2::2], fields[3::2], strict=True))))
    return found


def test_the_dashboard_draws_our_metrics_with_the_dimensions_they_are_emitted_with() -> None:
    ours = [
        (metric, dimensions) for namespace, metric, dimensions in _dashboard_metrics() if namespace == "AffiliateBridge"
    ]
    # Powertools adds service to every metric; a dashboard line without it stays empty.
    assert ours and all(dimensions.get("service") == "affiliate-bridge" for _, dimensions in ours), ours
    secrets = [dimensions for metric, dimensions in ours if metric == "SecretNotConfigured"]
    assert sorted(d["secret"] for d in secrets) == sorted(SECRET_NAMES)
    assert all(set(d) == {"service", "secret"} for d in secrets)


@pytest.mark.parametrize("parameter", ["StripeToleranceSeconds", "PaddleToleranceSeconds"])
def test_a_zero_tolerance_cannot_be_deployed(parameter: str) -> None:
    assert TEMPLATE["Parameters"][parameter]["MinValue"] >= 1


def test_outputs_print_the_urls_to_register() -> None:
    outputs = TEMPLATE["Outputs"]
    for name in ("StripeWebhookUrl", "PaddleWebhookUrl", "ReferralsUrl", "PartneroWebhookUrl"):
        assert name in outputs


def test_runtime_is_python_313_on_arm64() -> None:
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13" and function_globals["Architectures"] == ["arm64"]
    layer = RESOURCES["CommonLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13" and layer["Metadata"]["BuildArchitecture"] == "arm64"


def test_every_checkov_suppression_says_why() -> None:
    """`make validate` runs checkov on the transformed template; what it may not flag is
    suppressed on the resource itself, each with its reason in one line."""
    skipped = []
    for name, resource in RESOURCES.items():
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), (name, skip)
            assert len(skip.get("comment", "").split()) >= 8 and "\n" not in skip["comment"], (name, skip)
            skipped.append(skip["id"])
    assert "CKV_AWS_258" in skipped  # function URLs are public on purpose: the signature is the auth
