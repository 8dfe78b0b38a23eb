"""The DynamoDB and SQS clients each function builds once, at import (its cold start).

boto3 parses a service's whole model to build a client: DynamoDB's is about 1 MB of JSON,
a third of the time a cold start spends creating clients, for six operations used. The
session here looks in ``aws_models`` first, which holds those two models cut down to the
calls the template's IAM policies grant (generated from the pinned botocore by
``scripts/trim-aws-models``; tests check they are current and serialise every kept call
as the full models do). Every other model, file and service (Secrets Manager, X-Ray,
paginators) loads from botocore as usual. A call the policies do not grant has no method
on these clients: it fails at once, in tests too, instead of with AccessDenied in AWS.

The session builds these two clients only: its loader does not walk the ~400 service
directories botocore ships to confirm a name it already knows (about 14 ms per kind of
model, twice per cold start), so it knows no other service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.loaders import Loader

MODELS_DIR = Path(__file__).resolve().parent.parent / "aws_models"
SERVICES = ("dynamodb", "sqs")


class _TrimmedModelsFirst(Loader):  # type: ignore[misc]
    """botocore's loader, searching ``aws_models`` first and knowing only ``SERVICES``."""

    def __init__(self) -> None:
        super().__init__()
        self.search_paths.insert(0, str(MODELS_DIR))

    def list_available_services(self, type_name: str) -> list[str]:
        return list(SERVICES)


def session() -> boto3.Session:
    """A boto3 session for the DynamoDB and SQS clients, on the trimmed models."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _TrimmedModelsFirst())
    return boto3.Session(botocore_session=core)


def table_and_queue_clients() -> tuple[Any, Any]:
    """The DynamoDB and SQS clients, from one session (so one credentials lookup)."""
    made = session()
    return made.client("dynamodb"), made.client("sqs")
