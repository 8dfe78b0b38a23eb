"""Which bridge the CLI talks to: the local stack, or a deployed CloudFormation stack."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TargetError(RuntimeError):
    pass


@dataclass(frozen=True)
class Target:
    name: str
    table_name: str
    queue_url: str
    dead_letter_queue_url: str
    stripe_url: str | None
    paddle_url: str | None
    referrals_url: str | None
    aws_endpoint_url: str | None = None
    region: str | None = None

    def client(self, service: str) -> Any:
        import boto3

        kwargs: dict[str, Any] = {"region_name": self.region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"}
        if self.aws_endpoint_url:
            kwargs.update(endpoint_url=self.aws_endpoint_url, aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
        return boto3.client(service, **kwargs)


def local_target(state_dir: Path = Path(".local-stack")) -> Target:
    path = state_dir / "endpoints.json"
    if not path.is_file():
        raise TargetError(f"no local stack found ({path} missing): start one with `make run`, or pass --stack NAME")
    endpoints = json.loads(path.read_text(encoding="utf-8"))
    base = endpoints["bridge_url"]
    return Target(
        name="local",
        table_name=endpoints["table_name"],
        queue_url=endpoints["queue_url"],
        dead_letter_queue_url=endpoints["dead_letter_queue_url"],
        stripe_url=f"{base}/stripe",
        paddle_url=f"{base}/paddle",
        referrals_url=f"{base}/referrals",
        aws_endpoint_url=endpoints["aws_endpoint_url"],
        region="us-east-1",
    )


def stack_target(stack_name: str, region: str | None = None) -> Target:
    import boto3

    cloudformation = boto3.client("cloudformation", region_name=region)
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    try:
        return Target(
            name=stack_name,
            table_name=outputs["ReferralsTableName"],
            queue_url=outputs["TransactionsQueueUrl"],
            dead_letter_queue_url=outputs["DeadLetterQueueUrl"],
            stripe_url=outputs.get("StripeWebhookUrl"),
            paddle_url=outputs.get("PaddleWebhookUrl"),
            referrals_url=outputs.get("ReferralsUrl"),
            region=region,
        )
    except KeyError as exc:
        raise TargetError(f"stack {stack_name} has no output {exc}: is it an affiliate-bridge stack?") from exc
