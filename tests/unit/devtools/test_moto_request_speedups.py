"""moto's request-path patches change how much work a request costs, never a byte of its
answer: the same requests, through moto's own WSGI application, with and without."""

from __future__ import annotations

import base64
import io
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.parsing import ast_nodes
from moto.server import DomainDispatcherApplication, create_backend_app

from affiliate_bridge_dev import moto_request_speedups, moto_speedups
from tests.unit.devtools.moto_tables import create_table


@pytest.fixture(autouse=True)
def unpatched_after() -> Iterator[None]:
    moto_speedups.remove()
    yield
    moto_speedups.remove()


def _call(app: Any, target: str, body: dict[str, Any]) -> tuple[str, bytes]:
    raw = json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5000",
        "HTTP_HOST": "127.0.0.1:5000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(raw)),
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "HTTP_X_AMZ_TARGET": f"DynamoDB_20120810.{target}",
        "HTTP_AUTHORIZATION": (
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"
        ),
    }
    status: list[str] = []
    body_bytes = b"".join(app(environ, lambda s, headers, exc=None: status.append(s)))
    return status[0], body_bytes


# AttributeValues of every kind, plain ones and those the fast path leaves to moto.
SCALARS = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=8)),
    st.builds(lambda n: {"N": str(n)}, st.integers(-(10**12), 10**12)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda b: {"B": base64.b64encode(b).decode()}, st.binary(min_size=1, max_size=6)),
    st.builds(lambda ss: {"SS": sorted(ss)}, st.sets(st.text(min_size=1, max_size=4), min_size=1, max_size=3)),
    st.builds(lambda ns: {"NS": [str(n) for n in sorted(ns)]}, st.sets(st.integers(0, 99), min_size=1, max_size=3)),
    st.builds(
        lambda bs: {"BS": [base64.b64encode(b).decode() for b in sorted(bs)]},
        st.sets(st.binary(min_size=1, max_size=3), min_size=1, max_size=2),
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.builds(lambda m: {"M": m}, st.dictionaries(st.sampled_from(["a", "b", "c", ""]), inner, max_size=3)),
        st.builds(lambda items: {"L": items}, st.lists(inner, max_size=3)),
    ),
    max_leaves=8,
)
ITEMS = st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "#x", "s k", "n"]), VALUES, max_size=5), max_size=6)


def _answers(items: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    app = DomainDispatcherApplication(create_backend_app)
    answers: list[Any] = [
        _call(
            app,
            "CreateTable",
            {
                "TableName": "t",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            },
        )[:1]
    ]
    keys = [{"pk": {"S": "p"}, "sk": {"S": f"s{n}"}} for n in range(len(items))]
    for key, item in zip(keys, items, strict=True):
        answers.append(_call(app, "PutItem", {"TableName": "t", "Item": {**item, **key}, "ReturnValues": "NONE"}))
        answers.append(_call(app, "PutItem", {"TableName": "t", "Item": {**item, **key}, "ReturnValues": "ALL_OLD"}))
        answers.append(_call(app, "GetItem", {"TableName": "t", "Key": key, "ReturnConsumedCapacity": "TOTAL"}))
        answers.append(
            _call(
                app,
                "UpdateItem",
                {
                    "TableName": "t",
                    "Key": key,
                    "UpdateExpression": "SET #f = :v ADD n2 :one",
                    "ExpressionAttributeNames": {"#f": "f"},
                    "ExpressionAttributeValues": {":v": item.get("a", {"S": "x"}), ":one": {"N": "1"}},
                    "ReturnValues": "ALL_NEW",
                },
            )
        )
        answers.extend(_conditional_writes(app, key, item))
    answers.append(
        _call(
            app,
            "Query",
            {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}},
        )
    )
    answers.append(
        _call(
            app,
            "Query",
            {
                "TableName": "t",
                "KeyConditionExpression": "pk = :p",
                "FilterExpression": "attribute_exists(#f) AND n2 > :zero",
                "ExpressionAttributeNames": {"#f": "f"},
                "ExpressionAttributeValues": {":p": {"S": "p"}, ":zero": {"N": "0"}},
            },
        )
    )
    answers.append(_call(app, "Scan", {"TableName": "t"}))
    if keys:
        answers.append(_call(app, "BatchGetItem", {"RequestItems": {"t": {"Keys": keys[:3]}}}))
        answers.append(_call(app, "DeleteItem", {"TableName": "t", "Key": keys[0], "ReturnValues": "ALL_OLD"}))
    answers.append(_call(app, "GetItem", {"TableName": "missing", "Key": {"pk": {"S": "p"}}}))  # an error
    return answers


def _conditional_writes(app: Any, key: dict[str, Any], item: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The same conditions again and again, with the same and with other values, met,
    failed and malformed: a remembered condition must decide as a fresh one does."""
    answers = []
    for value in (item.get("a", {"S": "x"}), {"S": "x"}, item.get("a", {"S": "x"})):
        answers.append(
            _call(
                app,
                "UpdateItem",
                {
                    "TableName": "t",
                    "Key": key,
                    "UpdateExpression": "ADD n3 :one",
                    "ConditionExpression": "a = :v AND NOT attribute_exists(#gone)",
                    "ExpressionAttributeNames": {"#gone": "gone"},
                    "ExpressionAttributeValues": {":v": value, ":one": {"N": "1"}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                },
            )
        )
        answers.append(
            _call(
                app,
                "TransactWriteItems",
                {
                    "TransactItems": [
                        {
                            "Update": {
                                "TableName": "t",
                                "Key": key,
                                "UpdateExpression": "SET g = :v",
                                "ConditionExpression": "attribute_not_exists(#g) OR #g = :v",
                                "ExpressionAttributeNames": {"#g": "g"},
                                "ExpressionAttributeValues": {":v": value},
                            }
                        },
                        {
                            "ConditionCheck": {
                                "TableName": "t",
                                "Key": {"pk": {"S": "p"}, "sk": {"S": "none"}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                },
            )
        )
    for _ in range(2):  # moto's app raises on a malformed condition (its server answers 500)
        try:
            _call(app, "PutItem", {"TableName": "t", "Item": key, "ConditionExpression": "a = = :v",
                                   "ExpressionAttributeValues": {":v": {"S": "x"}}})  # fmt: skip
        except ValueError as refused:
            answers.append(("raised", str(refused).encode()))
    return answers


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=ITEMS)
@example(items=[{"m": {"M": {"": {"S": "x"}}}}])  # moto merges a member named "" into its map
def test_every_answer_is_the_same_bytes_with_the_patches(items: list[dict[str, Any]]) -> None:
    with mock_aws():
        plain = _answers(items)
    moto_speedups.apply()
    with mock_aws():
        fast = _answers(items)
    moto_speedups.remove()
    assert fast == plain


NAMES = st.one_of(
    st.sampled_from(["BatchGetItem", "TransactWriteItems", "ReceiveMessage", "ContentBasedDeduplication", "FifoQueue"]),
    st.text(alphabet="aAbBzZ09_-", max_size=12),
    st.text(max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(names=st.lists(NAMES, max_size=8))
def test_a_remembered_name_conversion_answers_as_moto_does(names: list[str]) -> None:
    from moto.core.utils import camelcase_to_underscores as original

    expected = [original(name) for name in names]
    moto_speedups.apply()
    try:
        for convert in _name_converters():
            assert [convert(name) for name in names * 2] == expected * 2
    finally:
        moto_speedups.remove()


def _stored_or_refused(attrs: dict[str, Any]) -> Any:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    try:
        item = Item(DynamoType({"S": "p"}), None, attrs)
    except ItemSizeTooLarge:
        return "too large"
    return {name: (type(value).__name__, value.type, value.value) for name, value in item.attrs.items()}


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 140_000), min_size=1, max_size=6), names=st.integers(1, 40))
def test_an_item_near_the_size_limit_is_stored_or_refused_alike(sizes: list[int], names: int) -> None:
    attrs: dict[str, Any] = {("n" * names) + str(i): {"S": "x" * size} for i, size in enumerate(sizes)}
    attrs["tail"] = {"M": {"k": {"N": "1"}, "l": {"L": [{"S": "y" * (sizes[0] // 7)}]}}}
    plain = _stored_or_refused(attrs)
    moto_speedups.apply()
    fast = _stored_or_refused(attrs)
    moto_speedups.remove()
    assert fast == plain


def test_the_size_limit_still_refuses() -> None:
    moto_speedups.apply()
    assert _stored_or_refused({"a": {"S": "x" * 300_000}, "b": {"S": "x" * 110_000}}) == "too large"
    assert _stored_or_refused({"a": {"S": "x" * 300_000}, "b": {"S": "x" * 100_000}}) != "too large"


def _name_converters() -> tuple[Any, ...]:
    import moto.core.responses
    import moto.core.utils
    import moto.sqs.models

    return tuple(m.camelcase_to_underscores for m in (moto.core.utils, moto.core.responses, moto.sqs.models))


def _condition_parsers() -> tuple[Any, ...]:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    return (ConditionExpressionParser.parse,)


def test_the_patches_are_installed_and_taken_back() -> None:
    def installed() -> tuple[Any, ...]:
        return (
            BaseJSONSerializer._serialize_type_structure,
            ast_nodes.Node.find_clauses,
            *_name_converters(),
            *_condition_parsers(),
        )

    before = installed()
    moto_speedups.apply()
    after = installed()
    assert all(patched is not original for patched, original in zip(after, before, strict=True))
    moto_speedups.remove()
    assert installed() == before
    from moto.dynamodb.parsing.validators import ActionCountValidator

    assert "traverse" not in vars(ActionCountValidator)  # inherited again, not left as a copy


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"S": "x"}, {"S": "x"}),
        ({"N": "1.5"}, {"N": "1.5"}),
        ({"BOOL": False}, {"BOOL": False}),
        ({"NULL": True}, {"NULL": True}),
        ({"SS": ["a", "b"]}, {"SS": ["a", "b"]}),
        ({"M": {"k": {"L": [{"S": "v"}, {"N": "2"}]}}}, {"M": {"k": {"L": [{"S": "v"}, {"N": "2"}]}}}),
        ({"B": "AAE="}, None),  # binary: moto's walk encodes it
        ({"S": "x", "N": "1"}, None),  # not one AttributeValue
        ({"S": 5}, None),  # a number where a string belongs
        ({"M": {"k": {"B": "AA=="}}}, None),  # plain outside, binary inside
        ({"L": [None]}, None),
        ("text", None),
    ],
)
def test_only_plain_attribute_values_take_the_short_road(value: Any, plain: Any) -> None:
    assert moto_request_speedups.plain_attribute_value(value) == plain


def test_a_serialised_attribute_value_is_a_copy_not_the_stored_value() -> None:
    stored = {"SS": ["a"], "M": None}
    stored.pop("M")
    plain = moto_request_speedups.plain_attribute_value(stored)
    assert plain is not None
    plain["SS"].append("changed")
    assert stored == {"SS": ["a"]}


def _condition_after_a_set_changed(patch: bool) -> Any:
    """A condition's set is stored by its own request (SET s = :s) and then grown in place
    (ADD): the same condition, asked again, must still mean the set it was sent with."""
    import boto3
    from botocore.exceptions import ClientError

    same_request = {
        "TableName": "h",
        "UpdateExpression": "SET s = :s",
        "ConditionExpression": "attribute_not_exists(s) OR s <> :s",
        "ExpressionAttributeValues": {":s": {"SS": ["x"]}},
    }
    if patch:
        moto_speedups.apply()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(dynamodb, "h", "id")
        dynamodb.update_item(Key={"id": {"S": "a"}}, **same_request)
        dynamodb.update_item(
            TableName="h",
            Key={"id": {"S": "a"}},
            UpdateExpression="ADD s :t",
            ExpressionAttributeValues={":t": {"SS": ["y"]}},
        )
        dynamodb.put_item(TableName="h", Item={"id": {"S": "b"}, "s": {"SS": ["x", "y"]}})
        try:
            dynamodb.update_item(Key={"id": {"S": "b"}}, **same_request)
            answer = "updated"
        except ClientError as refused:
            answer = refused.response["Error"]["Code"]
        return answer, dynamodb.scan(TableName="h")["Items"]


def test_a_remembered_condition_keeps_its_own_values_when_a_stored_set_grows() -> None:
    expected = _condition_after_a_set_changed(patch=False)
    assert expected[0] == "updated"  # {x, y} <> {x}
    assert _condition_after_a_set_changed(patch=True) == expected
