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
    # The handlers' non-secret settings (local), the stack's outputs (deployed).
    settings: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    dotenv_path: Path | None = None
    state_dir: Path | None = None

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
            settings=endpoints.get("settings") or {},
            dotenv_path=Path(endpoints["dotenv_path"]) if endpoints.get("dotenv_path") else None,
            state_dir=state_dir,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise TargetError(f"{path} is unreadable ({exc}): restart the local stack with `make run`") from exc
    if not _running(endpoints.get("pid")):
        raise TargetError(
            f"the local stack that wrote {path} (pid {endpoints['pid']}) is not running: start it with `make run`"
        )
    return target


def offline_local_target(state_dir: Path) -> Target:
    """The local stack while it is stopped: only its .env can be written."""
    return Target("local (stopped)", "", "", "", None, None, None, aws_endpoint_url="", state_dir=state_dir)


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
            outputs=outputs,
        )
    except KeyError as exc:
        raise TargetError(f"stack {stack_name} has no output {exc}: is it an affiliate-bridge stack?") from exc


def handler_settings(target: Target, function: str = "StripeWebhookFunction") -> dict[str, str]:
    """The settings the target's functions run with: the local stack writes them to
    endpoints.json; a deployed stack's are read from ``function``'s configuration."""
    if target.is_local:
        return {
            **target.settings,
            "TABLE_NAME": target.table_name,
            "QUEUE_URL": target.queue_url,
            "DEAD_LETTER_QUEUE_URL": target.dead_letter_queue_url,
        }
    cloudformation = target.client("cloudformation")
    resource = cloudformation.describe_stack_resource(StackName=target.name, LogicalResourceId=function)
    function = resource["StackResourceDetail"]["PhysicalResourceId"]
    configuration = target.client("lambda").get_function_configuration(FunctionName=function)
    variables: dict[str, str] = dict((configuration.get("Environment") or {}).get("Variables") or {})
    variables.setdefault("DEAD_LETTER_QUEUE_URL", target.dead_letter_queue_url)
    return variables
