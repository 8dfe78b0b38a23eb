"""A transaction backed up item by item answers and leaves the tables exactly as moto's
whole-table backup does, and no longer copies the table."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb import models
from moto.dynamodb.models.table import Table

from affiliate_bridge_dev import moto_speedups
from tests.unit.devtools.moto_tables import create_table

ORIGINAL_TRANSACT = models.DynamoDBBackend.transact_write_items
KEYS = [("A", "1"), ("A", "2"), ("B", "1"), ("C", "9")]
HASH_ONLY_KEYS = ["x", "y"]


def _tables(dynamodb: Any) -> None:
    create_table(dynamodb, "t", "pk", "sk")
    create_table(dynamodb, "h", "id")


def _key(target: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(target, tuple):
        return "t", {"pk": {"S": target[0]}, "sk": {"S": target[1]}}
    return "h", {"id": {"S": target}}


TARGETS = st.sampled_from([*KEYS, *HASH_ONLY_KEYS])
CONDITIONS = st.sampled_from([None, "attribute_exists(n)", "attribute_not_exists(n)", "n < :three"])


@st.composite
def operations(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Put", "Update", "Delete", "ConditionCheck"]))
    table, key = _key(draw(TARGETS))
    condition = draw(CONDITIONS)
    if kind == "ConditionCheck" and condition is None:
        condition = "attribute_exists(n)"
    body: dict[str, Any] = {"TableName": table}
    values: dict[str, Any] = {}
    if kind == "Put":
        body["Item"] = {**key, "n": {"N": str(draw(st.integers(0, 5)))}, "s": {"SS": ["p"]}}
    else:
        body["Key"] = key
    if kind == "Update":
        body["UpdateExpression"] = draw(st.sampled_from(["SET n = :n", "ADD s :s", "REMOVE n", "SET n = n + :n"]))
        values = {":n": {"N": "1"}} if ":n" in body["UpdateExpression"] else {}
        if ":s" in body["UpdateExpression"]:
            values = {":s": {"SS": ["u"]}}
    if condition:
        body["ConditionExpression"] = condition
        if ":three" in condition:
            values[":three"] = {"N": "3"}
    if values:
        body["ExpressionAttributeValues"] = values
    return {kind: body}


def _everything(dynamodb: Any) -> dict[str, list[Any]]:
    return {name: sorted(dynamodb.scan(TableName=name)["Items"], key=repr) for name in ("t", "h")}


def _run(patch: bool, stored: list[tuple[Any, int]], transactions: list[list[dict[str, Any]]]) -> list[Any]:
    if patch:
        moto_speedups.apply()
    try:
        with mock_aws():
            dynamodb = boto3.client("dynamodb", region_name="us-east-1")
            _tables(dynamodb)
            for target, n in stored:
                table, key = _key(target)
                dynamodb.put_item(TableName=table, Item={**key, "n": {"N": str(n)}})
            seen: list[Any] = []
            for transaction in transactions:
                try:
                    dynamodb.transact_write_items(TransactItems=copy.deepcopy(transaction))
                    seen.append("ok")
                except ClientError as error:
                    seen.append((error.response["Error"]["Code"], error.response.get("CancellationReasons")))
                seen.append(_everything(dynamodb))
            return seen
    finally:
        moto_speedups.remove()
        assert models.DynamoDBBackend.transact_write_items is ORIGINAL_TRANSACT


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stored=st.lists(st.tuples(TARGETS, st.integers(0, 5)), max_size=6),
    transactions=st.lists(st.lists(operations(), min_size=1, max_size=4), min_size=1, max_size=4),
)
def test_a_transaction_answers_and_leaves_the_same_tables_with_the_patch(
    stored: list[tuple[Any, int]], transactions: list[list[dict[str, Any]]]
) -> None:
    assert _run(True, stored, transactions) == _run(False, stored, transactions)


def test_a_cancelled_transaction_puts_back_what_it_wrote_and_removes_what_it_created() -> None:
    transaction = [
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "A"}, "sk": {"S": "new"}}}},
        {"Update": {"TableName": "h", "Key": {"id": {"S": "x"}}, "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "7"}}}},
        {"Delete": {"TableName": "t", "Key": {"pk": {"S": "A"}, "sk": {"S": "1"}}}},
        {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "B"}, "sk": {"S": "1"}},
                            "ConditionExpression": "attribute_exists(n)"}},
    ]  # fmt: skip
    seen = _run(True, [(("A", "1"), 1), ("x", 2)], [transaction])
    assert seen[0][0] == "TransactionCanceledException"
    assert [reason["Code"] for reason in seen[0][1]] == ["None", "None", "None", "ConditionalCheckFailed"]
    assert seen[1] == {
        "t": [{"pk": {"S": "A"}, "sk": {"S": "1"}, "n": {"N": "1"}}],
        "h": [{"id": {"S": "x"}, "n": {"N": "2"}}],
    }


def test_a_transaction_no_longer_copies_its_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    copied: list[str] = []
    real = copy.deepcopy

    def noting(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copied.append(value.name)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", noting)
    transaction = [{"Put": {"TableName": "t", "Item": {"pk": {"S": "A"}, "sk": {"S": "3"}}}}]
    _run(True, [(("A", "1"), 1)], [transaction, [{**transaction[0], "Put": {**transaction[0]["Put"],
         "ConditionExpression": "attribute_not_exists(pk)"}}]])  # fmt: skip
    assert copied == []
    _run(False, [(("A", "1"), 1)], [transaction])
    assert copied == ["t"]  # moto as it ships: the whole table, for each operation


@pytest.mark.parametrize(
    "operation",
    [
        {"Put": {"TableName": "h", "Item": {"id": {"M": {"a": {"S": "b"}}}}}},
        {"Update": {"TableName": "h", "Key": {"id": {"SS": ["a"]}}, "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "1"}}}},
        {"ConditionCheck": {"TableName": "h", "Key": {"id": {"L": []}}, "ConditionExpression": "attribute_exists(n)"}},
        {"Put": {"TableName": "h", "Item": {"n": {"N": "1"}}}},
        {"Put": {"TableName": "nope", "Item": {"id": {"S": "q"}}}},
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "A"}}, "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "1"}}}},
    ],
)  # fmt: skip
def test_a_key_that_cannot_name_an_item_is_refused_as_moto_refuses_it(operation: dict[str, Any]) -> None:
    transaction = [{"Put": {"TableName": "h", "Item": {"id": {"S": "y"}, "n": {"N": "9"}}}}, operation]
    seen = _run(True, [("x", 1)], [transaction])
    assert seen == _run(False, [("x", 1)], [transaction])
    assert seen[1]["h"] == [{"id": {"S": "x"}, "n": {"N": "1"}}]  # the first write was rolled back
