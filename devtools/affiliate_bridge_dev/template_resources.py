"""Create the table and queues of ``template.yaml`` in an emulated AWS (moto).

Definitions are read from the template itself, so the local stack and the tests run on
the same key schema, TTL attribute, FIFO settings, visibility timeout and redrive
policy as the cloud: change the template and local follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from affiliate_bridge_dev.handlers import REPO_ROOT

TEMPLATE_PATH = REPO_ROOT / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]
    """Reads !Ref, !GetAtt, !Sub ... as plain {"Tag": value} mappings."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


_CloudFormationLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    return document


def _parameter_default(template: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict) and "Ref" in value:
        return template["Parameters"][value["Ref"]]["Default"]
    return value


@dataclass(frozen=True)
class LocalResources:
    table_name: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    batch_size: int
    visibility_timeout: int
    max_receive_count: int


def policy_statements(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each function's IAM statements, by logical id, with ``Action`` and ``Resource`` as
    lists. Only inline policies are read: a SAM policy template or a managed policy would
    grant what no reader of the template can see, so one is refused (ValueError)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        statements = found.setdefault(name, [])
        for policy in resource["Properties"].get("Policies", []):
            if not isinstance(policy, dict) or set(policy) != {"Statement"}:
                raise ValueError(f"{name}: not an inline policy: {policy!r}")
            for statement in policy["Statement"]:
                statements.append(
                    {
                        **statement,
                        **{
                            part: statement[part] if isinstance(statement[part], list) else [statement[part]]
                            for part in ("Action", "Resource")
                            if part in statement
                        },
                    }
                )
    return found


def queue_settings(template: dict[str, Any]) -> dict[str, Any]:
    resources = template["Resources"]
    queue = resources["TransactionsQueue"]["Properties"]
    event = resources["ForwarderFunction"]["Properties"]["Events"]["Transactions"]["Properties"]
    return {
        "fifo": bool(queue.get("FifoQueue")),
        "content_based_deduplication": bool(queue.get("ContentBasedDeduplication")),
        "visibility_timeout": int(queue["VisibilityTimeout"]),
        "max_receive_count": int(_parameter_default(template, queue["RedrivePolicy"]["maxReceiveCount"])),
        "batch_size": int(event.get("BatchSize", 10)),
        "report_batch_item_failures": "ReportBatchItemFailures" in event.get("FunctionResponseTypes", []),
        "dead_letter_fifo": bool(resources["DeadLetterQueue"]["Properties"].get("FifoQueue")),
    }


def create_resources(
    dynamodb: Any,
    sqs: Any,
    prefix: str = "affiliate-bridge-local",
    template: dict[str, Any] | None = None,
    max_receive_count: int | None = None,
) -> LocalResources:
    """Create (or reuse) the table and both queues; returns their names and URLs."""
    template = template or load_template()
    table = template["Resources"]["ReferralsTable"]["Properties"]
    table_name = prefix
    existing = dynamodb.list_tables().get("TableNames", [])
    if table_name not in existing:
        extra: dict[str, Any] = {}
        if table.get("GlobalSecondaryIndexes"):
            extra["GlobalSecondaryIndexes"] = table["GlobalSecondaryIndexes"]
        dynamodb.create_table(
            TableName=table_name,
            BillingMode=table["BillingMode"],
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            **extra,
        )
        ttl = table["TimeToLiveSpecification"]
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": bool(ttl["Enabled"])},
        )
    settings = queue_settings(template)
    suffix = ".fifo" if settings["fifo"] else ""
    dlq_attributes = {"MessageRetentionPeriod": "1209600"}
    if settings["dead_letter_fifo"]:
        dlq_attributes["FifoQueue"] = "true"
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-dead-letters{suffix}", Attributes=dlq_attributes)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    receives = max_receive_count or settings["max_receive_count"]
    attributes = {
        "VisibilityTimeout": str(settings["visibility_timeout"]),
        "MessageRetentionPeriod": "1209600",
        "RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{receives}"}}',
    }
    if settings["fifo"]:
        attributes["FifoQueue"] = "true"
        attributes["ContentBasedDeduplication"] = str(settings["content_based_deduplication"]).lower()
    queue_url = sqs.create_queue(QueueName=f"{prefix}-transactions{suffix}", Attributes=attributes)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return LocalResources(
        table_name=table_name,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dead_letter_queue_url=dlq_url,
        batch_size=settings["batch_size"],
        visibility_timeout=settings["visibility_timeout"],
        max_receive_count=receives,
    )


# A function without a concurrency limit in the template (WebhookReservedConcurrency=0)
# still gets a bounded pool locally: a laptop is not an account of 1,000 environments.
UNRESERVED_LOCAL_CONCURRENCY = 10


@dataclass(frozen=True)
class FunctionLimits:
    concurrency: int  # execution environments at once
    timeout_seconds: int


def function_limits(template: dict[str, Any] | None = None) -> dict[str, FunctionLimits]:
    """functions/<name>/ -> its concurrency and timeout, as template.yaml sets them: the
    reserved concurrency of the public functions, the event source mapping's
    MaximumConcurrency of the forwarder, each Timeout (or the Globals one)."""
    template = template or load_template()
    default_timeout = int(template.get("Globals", {}).get("Function", {}).get("Timeout", 3))
    limits: dict[str, FunctionLimits] = {}
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        name = str(properties["CodeUri"]).strip("/").rsplit("/", 1)[-1]
        reserved = properties.get("ReservedConcurrentExecutions")
        if isinstance(reserved, dict) and "If" in reserved:
            reserved = reserved["If"][1]  # the value when the condition holds (the default's case)
        concurrency = int(_parameter_default(template, reserved) or 0)
        for event in (properties.get("Events") or {}).values():
            scaling = (event.get("Properties") or {}).get("ScalingConfig") or {}
            if "MaximumConcurrency" in scaling:
                concurrency = int(_parameter_default(template, scaling["MaximumConcurrency"]))
        limits[name] = FunctionLimits(
            concurrency or UNRESERVED_LOCAL_CONCURRENCY, int(properties.get("Timeout", default_timeout))
        )
    return limits
