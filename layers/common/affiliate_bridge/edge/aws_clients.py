"""The DynamoDB and SQS clients each function builds once, at import (its cold start).

boto3 parses a service's whole model to build a client: DynamoDB's is about 1 MB of JSON,
a third of the time a cold start spends creating clients, for six operations used. The
session here looks in ``aws_models`` first, which holds those two models cut down to the
calls the template's IAM policies grant (generated from the pinned botocore by
``scripts/trim-aws-models``; tests check they are current and serialise every kept call
as the full models do). Every other model, file and service (Secrets Manager, X-Ray,
paginators) loads from botocore as usual. A call the policies do not grant has no method
on these clients: it fails at once, in tests too, instead of with AccessDenied in AWS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import botocore.session

MODELS_DIR = Path(__file__).resolve().parent.parent / "aws_models"


def session() -> boto3.Session:
    """A boto3 session whose model search starts with the trimmed models."""
    core = botocore.session.get_session()
    core.get_component("data_loader").search_paths.insert(0, str(MODELS_DIR))
    return boto3.Session(botocore_session=core)


def table_and_queue_clients() -> tuple[Any, Any]:
    """The DynamoDB and SQS clients, from one session (so one credentials lookup)."""
    made = session()
    return made.client("dynamodb"), made.client("sqs")
