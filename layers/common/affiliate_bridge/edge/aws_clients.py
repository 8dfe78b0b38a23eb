"""The DynamoDB and SQS clients each function builds once, at import (its cold start).

boto3 parses a service's whole model to build a client: DynamoDB's is about 1 MB of JSON,
a third of the time a cold start spends creating clients, for six operations used. The
session here looks in ``aws_models`` first, which holds those two models cut down to the
calls some function's IAM policy in the template grants (generated from the pinned
botocore by ``scripts/trim-aws-models``; tests check they are current and describe every
kept call as the full models do). Every other model, file and service (STS for assumed
roles, Secrets Manager, X-Ray, paginators, endpoint rules) loads from botocore as usual,
but for the endpoint data (below).
A call no function is granted has no method on these clients, so it fails at once, in
tests too; which function may make which call is test_least_privilege's to prove.
DynamoDB's opt-in endpoint discovery (``AWS_ENDPOINT_DISCOVERY_ENABLED``) needs the
ungranted ``DescribeEndpoints`` and stays off.

botocore also confirms each service name by walking the ~400 service directories it
ships, once per kind of model (about 14 ms each, twice per cold start); for these two
names the loader answers without the walk. And every session parses botocore's
``endpoints.json`` (1.25 MB, every service of every partition: 16 ms) for its legacy
endpoint resolver; ``aws_models/endpoints.json`` is that file with every partition but
only these two services (16 KB), which is all a session that builds no other client
reads. It counts as botocore's bundled data, so the endpoint rule sets decide each URL
as they do with the full file (tests compare the URLs and signing scopes of both in
every region).

The clients send a User-Agent fixed when they are built (``USER_AGENT``, botocore's
documented ``Config(user_agent=...)``). Left to itself botocore rebuilds its header twice
for every call, from about 30 components each passed through a character filter: 15-20 %
of the client's CPU per DynamoDB call, measured against a local server. What is lost is
the per-call list of SDK feature codes AWS collects for its own statistics; what is
gained is a name an operator finds in CloudTrail's ``userAgent``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

from affiliate_bridge import __version__

MODELS_DIR = Path(__file__).resolve().parent.parent / "aws_models"
SERVICES = ("dynamodb", "sqs")
USER_AGENT = (
    f"affiliate-bridge/{__version__} Boto3/{boto3.__version__} "
    f"Python/{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
)  # boto3's session appends "Botocore/<version>"


class _ServiceNames(Sequence[str]):
    """botocore's list of known services, listed only when asked about another service."""

    def __init__(self, list_all: Callable[[], list[str]]) -> None:
        self._list_all = list_all
        self._all: list[str] | None = None

    def _names(self) -> list[str]:
        if self._all is None:
            self._all = self._list_all()
        return self._all

    def __contains__(self, name: object) -> bool:
        return name in SERVICES or name in self._names()

    def __getitem__(self, index: Any) -> Any:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())


class _TrimmedModelsFirst(Loader):  # type: ignore[misc]
    """botocore's loader, searching ``aws_models`` first (then ``AWS_DATA_PATH``, then
    botocore's own data), that knows ``SERVICES`` without listing every service."""

    def __init__(self, data_path: str | None) -> None:
        extra = [os.path.expandvars(os.path.expanduser(p)) for p in (data_path or "").split(os.pathsep) if p]
        super().__init__(extra_search_paths=[str(MODELS_DIR), *extra])

    def list_available_services(self, type_name: str) -> Sequence[str]:
        return _ServiceNames(lambda: list(super(_TrimmedModelsFirst, self).list_available_services(type_name)))

    def is_builtin_path(self, path: str) -> bool:
        """Our ``endpoints.json`` is botocore's own, cut: treated as bundled, so endpoints
        resolve through the rule sets exactly as with the full file (botocore hands a
        custom file's legacy answer to the rule sets instead)."""
        return path == str(MODELS_DIR / "endpoints") or bool(super().is_builtin_path(path))


def session() -> boto3.Session:
    """A boto3 session whose DynamoDB and SQS clients are built on the trimmed models."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _TrimmedModelsFirst(core.get_config_variable("data_path")))
    return boto3.Session(botocore_session=core)


def table_and_queue_clients() -> tuple[Any, Any]:
    """The DynamoDB and SQS clients, from one session (so one credentials lookup)."""
    made = session()
    config = Config(user_agent=USER_AGENT)
    return made.client("dynamodb", config=config), made.client("sqs", config=config)
