"""The template itself: the properties the design depends on, checked without AWS.

`sam validate --lint` (make validate, CI) checks that it is valid; these check that it
says what the code assumes: names of environment variables, the TTL attribute, FIFO,
partial batch responses, least privilege.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from affiliate_bridge_dev.template_resources import load_template, queue_settings

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
PUBLIC = {"StripeWebhookFunction", "PaddleWebhookFunction", "ReferralsFunction"}
LAYER = Path(__file__).resolve().parents[2] / "layers/common/affiliate_bridge"


def _env(function: str) -> dict[str, Any]:
    merged = dict(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    merged.update(FUNCTIONS[function].get("Environment", {}).get("Variables", {}))
    return merged


def _statements(function: str) -> list[dict[str, Any]]:
    return [s for policy in FUNCTIONS[function]["Policies"] for s in policy["Statement"]]


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
    attribute = table["TimeToLiveSpecification"]["AttributeName"]
    for module in ("storage/ledger.py", "storage/parked_payments.py"):
        assert f'"{attribute}"' in (LAYER / module).read_text()
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["ByTransactionKey"]


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_environment_names_match_what_settings_and_secrets_read(function: str) -> None:
    code = (LAYER / "edge/settings.py").read_text() + (LAYER / "edge/secrets.py").read_text()
    read_by_code = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', code))
    for name in _env(function):
        if name.startswith("POWERTOOLS_"):
            continue
        base = name.removesuffix("_ARN")
        assert name in read_by_code or base in _secret_names(), f"{function}: {name} is read by nothing"


def _secret_names() -> set[str]:
    names = set()
    for path in LAYER.rglob("*.py"):
        names.update(re.findall(r'(?:resolve_secret|_secrets)\("([A-Z_]+)"\)', path.read_text()))
    return names


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_secret_a_function_reads_is_one_it_may_read(function: str) -> None:
    env = _env(function)
    allowed: list[Any] = []
    for statement in _statements(function):
        if statement["Action"] == "secretsmanager:GetSecretValue":
            resource = statement["Resource"]
            allowed.extend(resource if isinstance(resource, list) else [resource])
    referenced = [value for name, value in env.items() if name.endswith("_ARN")]
    assert sorted(map(str, referenced)) == sorted(map(str, allowed))


def test_least_privilege_no_wildcards_and_named_resources() -> None:
    for function in FUNCTIONS:
        for statement in _statements(function):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in action for action in actions), (function, actions)
            assert statement["Resource"] != "*", function
            assert not any(a in ("dynamodb:Scan", "dynamodb:DeleteTable", "sqs:DeleteQueue") for a in actions)


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


def test_no_secret_starts_with_a_value_anybody_can_know() -> None:
    secrets = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::SecretsManager::Secret"}
    assert len(secrets) == len(SECRET_NAMES)
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
    assert set(ids) == set(SECRET_NAMES)
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
