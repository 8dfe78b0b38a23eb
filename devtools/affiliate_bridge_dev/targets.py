"""Which bridge the CLI talks to: the local stack, or a deployed CloudFormation stack.

The local stack writes ``endpoints.json`` into its state directory when it is ready and
removes it when it stops cleanly. The file also names the secrets the running stack
verifies with, so ``send`` signs with what the stack uses, not with what the CLI's own
environment happens to say.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENDPOINTS_FILE = "endpoints.json"


class TargetError(RuntimeError):
    """An expected failure to find or reach a bridge: said in one line, never a traceback."""


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
    # The running local stack's configuration: secret name -> value(s), metadata fields.
    config: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.aws_endpoint_url is not None

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        kwargs: dict[str, Any] = {"region_name": self.region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"}
        if self.aws_endpoint_url:
            kwargs.update(endpoint_url=self.aws_endpoint_url, aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
            # A stopped local stack should be said at once, not after botocore's retries.
            kwargs["config"] = Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 1})
        return boto3.client(service, **kwargs)


def _running(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # an older file without a pid: let the connection decide
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def local_target(state_dir: Path = Path(".local-stack")) -> Target:
    path = state_dir / ENDPOINTS_FILE
    if not path.is_file():
        raise TargetError(f"no local stack running ({path} not found): start one with `make run`, or pass --stack NAME")
    try:
        endpoints = json.loads(path.read_text(encoding="utf-8"))
        base = endpoints["bridge_url"]
        target = Target(
            name="local",
            table_name=endpoints["table_name"],
            queue_url=endpoints["queue_url"],
            dead_letter_queue_url=endpoints["dead_letter_queue_url"],
            stripe_url=f"{base}/stripe",
            paddle_url=f"{base}/paddle",
            referrals_url=f"{base}/referrals",
            aws_endpoint_url=endpoints["aws_endpoint_url"],
            region="us-east-1",
            config=endpoints.get("config") or {},
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise TargetError(f"{path} is unreadable ({exc}): restart the local stack with `make run`") from exc
    if not _running(endpoints.get("pid")):
        raise TargetError(
            f"the local stack that wrote {path} (pid {endpoints['pid']}) is not running: start it with `make run`"
        )
    return target


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
