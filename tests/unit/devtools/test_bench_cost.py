"""The cost model's arithmetic: DynamoDB's sizing rules, units, and dollars per line."""

from __future__ import annotations

import pytest

from affiliate_bridge_dev.bench_cost import (
    ASSUMED_AFFILIATE_API_MS,
    ASSUMED_AWS_CALL_MS,
    LAMBDA_MEMORY_GB,
    PRICES,
    Usage,
    attribute_bytes,
    item_bytes,
    per_million,
    read_units,
    write_units,
)


def test_item_sizes_follow_dynamodbs_rules() -> None:
    # Names count as their UTF-8 bytes, strings too; a number is about half its digits + 1.
    assert item_bytes({"pk": {"S": "PAYMENT#stripe-in_1"}}) == 2 + 19
    assert attribute_bytes({"N": "12345"}) == 4 and attribute_bytes({"N": "0.5"}) == 2
    assert attribute_bytes({"BOOL": True}) == 1 and attribute_bytes({"NULL": True}) == 1
    assert attribute_bytes({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert attribute_bytes({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    assert attribute_bytes({"SS": ["a", "bc"]}) == 3
    assert item_bytes({"é": {"S": "ü"}}) == 4  # bytes, not characters
    assert item_bytes(None) == 0
    with pytest.raises(ValueError, match="not a DynamoDB attribute value"):
        attribute_bytes({"X": 1})


def test_units_round_up_and_never_fall_to_zero() -> None:
    assert [write_units(n) for n in (0, 1, 1024, 1025, 4096)] == [1, 1, 1, 2, 4]
    assert read_units(0, consistent=True) == 1 and read_units(0, consistent=False) == 0.5
    assert read_units(4097, consistent=True) == 2 and read_units(4097, consistent=False) == 1


def test_dollars_per_million_add_up_by_line() -> None:
    webhook = Usage(invocations=1, cpu_ms=2.0, aws_calls=2, read_units=1, write_units=2, sqs_requests=1, log_bytes=1000)
    forwarded = Usage(invocations=0.1, cpu_ms=10.0, aws_calls=4, affiliate_calls=1, write_units=3, sqs_requests=0.2)
    assert webhook.billed_ms == 2.0 + 2 * ASSUMED_AWS_CALL_MS
    assert forwarded.billed_ms == 10.0 + 4 * ASSUMED_AWS_CALL_MS + ASSUMED_AFFILIATE_API_MS
    cost = per_million([webhook, forwarded])
    gb_seconds = (webhook.billed_ms + forwarded.billed_ms) / 1000 * LAMBDA_MEMORY_GB * 1e6
    assert cost["lambda_requests"] == pytest.approx(1.1e6 * PRICES["lambda_request"])
    assert cost["lambda_duration"] == pytest.approx(gb_seconds * PRICES["lambda_gb_second_arm64"])
    assert cost["dynamodb_writes"] == pytest.approx(5 * 0.625)
    assert cost["dynamodb_reads"] == pytest.approx(0.125)
    assert cost["sqs"] == pytest.approx(1.2 * 0.50)
    assert cost["logs"] == pytest.approx(1000 * 1e6 / 1e9 * 0.50)
    assert cost["total"] == pytest.approx(sum(v for k, v in cost.items() if k != "total"))
