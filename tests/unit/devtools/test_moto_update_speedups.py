"""The short road through moto's update expressions ends where moto's own does: the same
item, the same answer, the same error, for simple expressions and for every kind it
leaves to moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.parsing.expressions import UpdateExpressionParser

from affiliate_bridge_dev import moto_speedups, moto_update_speedups


@pytest.fixture(autouse=True)
def unpatched_after() -> Iterator[None]:
    moto_speedups.remove()
    yield
    moto_speedups.remove()


# Targets: plain and reserved names, the table's keys, an index's key, a nested path.
NAMES = ["a", "b", "n", "s", "gk", "pk", "status", "m.k", "m"]
SCALARS = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=4)),
    st.builds(lambda n: {"N": str(n)}, st.integers(-5, 5)),
    st.builds(lambda ss: {"SS": sorted(ss)}, st.sets(st.sampled_from("xyz"), min_size=1, max_size=2)),
    st.just({"BOOL": True}),
)


SIMPLE_NAMES = ["a", "b", "n", "m"]
NUMBERS = st.builds(lambda n: {"N": str(n)}, st.integers(-5, 5))


@st.composite
def actions(draw: Any, simple: bool) -> tuple[str, str, dict[str, str], dict[str, Any]]:
    """(clause, action text, names, values): one action of a generated expression; a
    simple one is of the kinds the short road takes (it may still repeat a path)."""
    n = draw(st.integers(0, 10**6))
    pool = SIMPLE_NAMES if simple else NAMES
    name, source = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
    placeholder = draw(st.booleans()) and "." not in name
    target = f"#n{n}" if placeholder else name
    names = {f"#n{n}": name} if placeholder else {}
    if not simple and draw(st.integers(0, 9)) == 0:
        names = {}  # a placeholder left undefined, or nothing to define
    kinds = (
        ["set", "if_not_exists", "add"]
        if simple
        else ["set", "set", "if_not_exists", "add", "remove", "arithmetic", "missing"]
    )
    kind = draw(st.sampled_from(kinds))
    value = draw(NUMBERS if simple and kind == "add" else SCALARS)
    if kind == "set":
        return "SET", f"{target} = :v{n}", names, {f":v{n}": value}
    if kind == "if_not_exists":
        return "SET", f"{target} = if_not_exists({source}, :v{n})", names, {f":v{n}": value}
    if kind == "add":
        return "ADD", f"{target} :v{n}", names, {f":v{n}": value}
    if kind == "remove":
        return "REMOVE", target, names, {}
    if kind == "arithmetic":
        return "SET", f"{target} = {source} + :v{n}", names, {f":v{n}": value}
    return "SET", f"{target} = :undefined{n}", names, {}


@st.composite
def updates(draw: Any) -> tuple[str, dict[str, str], dict[str, Any]]:
    simple = draw(st.booleans())
    drawn = draw(st.lists(actions(simple), min_size=1, max_size=6))
    clauses: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for clause, text, more_names, more_values in drawn:
        clauses.setdefault(clause, []).append(text)
        names.update(more_names)
        values.update(more_values)
    parts = [f"{clause} {', '.join(texts)}" for clause, texts in clauses.items()]
    if not simple and draw(st.integers(0, 9)) == 0:
        parts.append(parts[0])  # a clause given twice
    return " ".join(parts), names, values


EXISTING = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "a": SCALARS,
            "b": NUMBERS,
            "n": st.one_of(NUMBERS, SCALARS),
            "s": st.just({"SS": ["x"]}),
            "gk": st.just({"S": "g"}),
            "m": st.one_of(st.just({"M": {"k": {"S": "v"}}}), NUMBERS),
        },
    ),
)


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    """One table for the whole module: each run updates an item of its own."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-gk",
                    "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        yield client


RUNS = iter(range(10**9))


def _outcomes(
    dynamodb: Any, existing: dict[str, Any] | None, batch: list[tuple[str, dict[str, str], dict[str, Any]]]
) -> list[Any]:
    """Each update's answer (or error) and the item after it, its key left out."""
    key = {"pk": {"S": "p"}, "sk": {"S": f"run{next(RUNS)}"}}
    if existing is not None:
        dynamodb.put_item(TableName="t", Item={**existing, **key})
    outcomes: list[Any] = []
    for expression, names, values in batch:
        kwargs: dict[str, Any] = {"TableName": "t", "Key": key, "UpdateExpression": expression}
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            answer = dynamodb.update_item(**kwargs, ReturnValues="ALL_NEW")
            outcomes.append(("ok", _keyless(answer.get("Attributes"))))
        except ClientError as error:
            outcomes.append(("error", error.response["Error"]["Code"], error.response["Error"]["Message"]))
        except Exception as error:  # moto's own crash (an undefined name in some places) must match too
            outcomes.append(("raised", type(error).__name__, str(error)))
        outcomes.append(_keyless(dynamodb.get_item(TableName="t", Key=key).get("Item")))
    return outcomes


def _keyless(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if item is None else {name: value for name, value in item.items() if name not in ("pk", "sk")}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(existing=EXISTING, batch=st.lists(updates(), min_size=1, max_size=3))
def test_an_update_ends_the_same_with_the_short_road(
    dynamodb: Any, existing: dict[str, Any] | None, batch: list[tuple[str, dict[str, str], dict[str, Any]]]
) -> None:
    plain = _outcomes(dynamodb, existing, batch)
    moto_speedups.apply()
    fast = _outcomes(dynamodb, existing, batch)
    moto_speedups.remove()
    assert fast == plain


LEDGER_LIKE = (
    "SET #f0 = :v0, #f1 = :v1, first_seen_at = if_not_exists(first_seen_at, :now) ADD deliveries :one",
    {"#f0": "outcome", "#f1": "provider"},
    {":v0": {"S": "forwarded"}, ":v1": {"S": "stripe"}, ":now": {"N": "7"}, ":one": {"N": "1"}},
)


def test_the_ledgers_upsert_takes_the_short_road(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    applied: list[Any] = []
    original = moto_update_speedups.SimpleUpdate.apply
    monkeypatch.setattr(
        moto_update_speedups.SimpleUpdate, "apply", lambda self, item: applied.append(original(self, item))
    )
    moto_speedups.apply()
    outcomes = _outcomes(dynamodb, None, [LEDGER_LIKE, LEDGER_LIKE])
    assert len(applied) == 2
    assert outcomes[-1] == {
        "outcome": {"S": "forwarded"},
        "provider": {"S": "stripe"},
        "first_seen_at": {"N": "7"},
        "deliveries": {"N": "2"},
    }


def test_what_moto_would_refuse_takes_moto_s_road(dynamodb: Any) -> None:
    moto_speedups.apply()
    refused = [
        ("SET pk = :v", {}, {":v": {"S": "x"}}),  # a key attribute
        ("SET status = :v", {}, {":v": {"S": "x"}}),  # a reserved word
        ("SET #a = :v, #b = :w", {"#a": "x", "#b": "x"}, {":v": {"S": "1"}, ":w": {"S": "2"}}),  # one path twice
        ("ADD a :v", {}, {":v": {"S": "x"}}),  # ADD of a string
    ]
    outcomes = _outcomes(dynamodb, {"a": {"S": "x"}}, refused)
    assert [outcome[0] for outcome in outcomes[::2]] == ["error"] * 4


def test_a_placeholder_spelled_like_an_attribute_definition_takes_moto_s_road(dynamodb: Any) -> None:
    """moto checks index key types against the text as written ("#g"), not the name it
    stands for: a table with an attribute definition literally named "#g" must get
    moto's refusal, not a short-road write."""
    dynamodb.create_table(
        TableName="hashy",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "#g")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "#g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )

    def outcomes() -> list[Any]:
        seen: list[Any] = []
        for n, value in enumerate([{"N": "1"}, {"S": ""}]):
            key = {"pk": {"S": f"p{n}"}}
            try:
                dynamodb.update_item(
                    TableName="hashy",
                    Key=key,
                    UpdateExpression="SET #g = :v",
                    ExpressionAttributeNames={"#g": "other"},
                    ExpressionAttributeValues={":v": value},
                )
                seen.append("ok")
            except ClientError as error:
                seen.append(error.response["Error"]["Code"])
            seen.append(dynamodb.get_item(TableName="hashy", Key=key).get("Item"))
        return seen

    plain = outcomes()
    moto_speedups.apply()
    fast = outcomes()
    assert plain == ["ValidationException", None, "ValidationException", None]
    assert fast == plain


def test_a_kept_parse_tree_is_never_changed_by_an_update(dynamodb: Any) -> None:
    moto_speedups.apply()
    expression = "SET a = if_not_exists(a, :v) REMOVE b"  # moto's road: validated on a copy
    before = UpdateExpressionParser.make(expression)
    _outcomes(dynamodb, {"a": {"S": "x"}, "b": {"S": "y"}}, [(expression, {}, {":v": {"S": "z"}})] * 2)
    after = UpdateExpressionParser.make(expression)
    assert after is before
    assert _shape(after) == _shape(UpdateExpressionParser.make.__wrapped__(UpdateExpressionParser, expression))


def _shape(node: Any) -> Any:
    """A parse tree as nested tuples of node types and leaf values, to compare trees by value."""
    children = getattr(node, "children", None)
    if children is None and not hasattr(node, "children"):
        return node if isinstance(node, str) else repr(node)
    return (type(node).__name__, tuple(_shape(child) for child in children or []))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    held=st.integers(404_700, 405_000),
    sizes=st.lists(st.integers(0, 120), min_size=1, max_size=5),
    replace_big=st.booleans(),
)
def test_an_update_near_the_item_size_limit_is_stored_or_refused_alike(
    dynamodb: Any, held: int, sizes: list[int], replace_big: bool
) -> None:
    """The running size sum: the same step passes the limit with and without it, and what
    is stored before the refusal is the same (a value replaced counts as moto counts it)."""
    names = {f"#a{i}": ("big" if replace_big and i == 0 else f"a{i}") for i in range(len(sizes))}
    values = {f":v{i}": {"S": "y" * size} for i, size in enumerate(sizes)}
    expression = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(sizes))) + " ADD n :one"
    batch = [(expression, names, {**values, ":one": {"N": "1"}})]
    existing = {"big": {"S": "x" * (held - 200)}, "tail": {"SS": ["a", "b"]}, "n": {"N": "2"}}
    plain = _outcomes(dynamodb, existing, batch)
    moto_speedups.apply()
    fast = _outcomes(dynamodb, existing, batch)
    moto_speedups.remove()
    assert fast == plain
