"""What a million webhooks cost on AWS, from what `make bench` counted and measured.

Pure arithmetic: ``bench.py`` meters every AWS call a webhook and its forwarding make
(operation, item sizes, consistent or not) and measures their CPU time; this module turns
that into read and write units, SQS requests, billed Lambda GB-seconds and dollars.

The prices are the published on-demand prices for us-east-1 that the table names, as of
the date in ``PRICES_AS_OF`` (checked by hand; the bench has no network). DynamoDB's are
the ones after the 2024-11-01 on-demand reduction. Free tiers are left out: they are
per account, not per webhook.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PRICES_AS_OF = "2024-11-01"
PRICES = {
    "lambda_request": 0.20 / 1e6,  # per invocation
    "lambda_gb_second_arm64": 0.0000133334,
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand read request unit
    "sqs_fifo_request": 0.50 / 1e6,  # per request, per 64 KB chunk
    "logs_ingested_gb": 0.50,  # CloudWatch Logs, standard class
}
# What the model assumes where the bench cannot measure the cloud itself.
ASSUMED_AWS_CALL_MS = 6.0  # one DynamoDB or SQS round trip inside the region
ASSUMED_AFFILIATE_API_MS = 150.0  # one call to the affiliate API over the internet
LAMBDA_MEMORY_GB = 256 / 1024  # template.yaml Globals MemorySize

WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem"}
SQS_CHUNK_BYTES = 64 * 1024


def attribute_bytes(value: Mapping[str, Any]) -> int:
    """DynamoDB's size of one attribute value (its documented sizing rules, rounded up)."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        digits = len(str(inner).lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(str(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_bytes({kind[0]: member}) for member in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_bytes(member) for member in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + attribute_bytes(member) for name, member in inner.items())
    raise ValueError(f"not a DynamoDB attribute value: {value!r}")


def item_bytes(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    return sum(len(name.encode()) + attribute_bytes(value) for name, value in (item or {}).items())


def write_units(size: int) -> int:
    """A write costs one unit per started KB, at least one (a failed condition too)."""
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    """A read costs one unit per started 4 KB (half when eventually consistent), at least
    that much when nothing was found."""
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


@dataclass
class Usage:
    """What one webhook, or one forwarded message, cost in AWS terms."""

    invocations: float = 0.0  # Lambda invocations (a batch of ten messages is one)
    cpu_ms: float = 0.0  # measured, our code and the SDK's
    aws_calls: float = 0.0
    affiliate_calls: float = 0.0
    read_units: float = 0.0
    write_units: float = 0.0
    sqs_requests: float = 0.0
    log_bytes: float = 0.0
    calls: list[str] = field(default_factory=list)

    @property
    def billed_ms(self) -> float:
        """Lambda bills wall time: the CPU measured here, plus the round trips it waited on."""
        return self.cpu_ms + self.aws_calls * ASSUMED_AWS_CALL_MS + self.affiliate_calls * ASSUMED_AFFILIATE_API_MS

    def dollars(self) -> dict[str, float]:
        gb_seconds = self.billed_ms / 1000 * LAMBDA_MEMORY_GB
        return {
            "lambda_requests": self.invocations * PRICES["lambda_request"],
            "lambda_duration": gb_seconds * PRICES["lambda_gb_second_arm64"],
            "dynamodb_reads": self.read_units * PRICES["dynamodb_read_unit"],
            "dynamodb_writes": self.write_units * PRICES["dynamodb_write_unit"],
            "sqs": self.sqs_requests * PRICES["sqs_fifo_request"],
            "logs": self.log_bytes / 1e9 * PRICES["logs_ingested_gb"],
        }


def per_million(usages: Iterable[Usage]) -> dict[str, float]:
    """Dollars per million webhooks, by line, for usages that each stand for one webhook."""
    total: dict[str, float] = {}
    for usage in usages:
        for line, dollars in usage.dollars().items():
            total[line] = total.get(line, 0.0) + dollars * 1e6
    total["total"] = sum(total.values())
    return total
