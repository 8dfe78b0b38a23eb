"""The CLI's expected failures, each said in one line instead of a traceback.

An operator meets these in the first hour: the local stack is not running (or left a
stale endpoints.json behind), a file name is wrong, --stack has no credentials or region,
the output goes to ``head``. A bug still shows its traceback: that one we want to see.
"""

from __future__ import annotations

import argparse

# Exit codes: 1 = the bridge answered "no" (or nothing was found), 2 = could not ask.
COULD_NOT_ASK = 2
BROKEN_PIPE = 141  # what a shell reports for a process killed by SIGPIPE


def describe(exc: BaseException, args: argparse.Namespace) -> str | None:
    """One line for an expected failure; None for anything else (a bug: let it raise)."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )
    from requests import ConnectionError as RequestsConnectionError
    from requests import Timeout

    where = f"stack {args.stack}" if args.stack else "the local stack"
    if isinstance(exc, EndpointConnectionError):
        if args.stack:
            return f"cannot reach AWS for {where} ({exc.kwargs.get('endpoint_url')}): check the network and --region"
        return f"cannot reach the local stack ({exc.kwargs.get('endpoint_url')}): is `make run` running?"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return f"no AWS credentials for {where}: set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    if isinstance(exc, NoRegionError):
        return f"no AWS region for {where}: pass --region (or set AWS_REGION)"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"AWS refused {exc.operation_name} for {where}: {error.get('Code')}: {error.get('Message')}"
    if isinstance(exc, RequestsConnectionError | Timeout):
        return f"cannot reach the bridge ({type(exc).__name__}): is `make run` running?"
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        return f"{exc.strerror}: {exc.filename}"
    return None
