"""A DynamoDB transaction is authorised item by item; every other call by its own name."""

from __future__ import annotations

from affiliate_bridge_dev.iam_actions import call_actions, operation_for


def test_a_transaction_names_each_item_s_action_and_table() -> None:
    params = {
        "TransactItems": [
            {"Update": {"TableName": "t1", "Key": {}}},
            {"ConditionCheck": {"TableName": "t2", "Key": {}, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": "t1", "Item": {}}},
            {"Delete": {"TableName": "t3", "Key": {}}},
        ]
    }
    assert call_actions("dynamodb", "TransactWriteItems", params) == [
        ("dynamodb:UpdateItem", "t1"),
        ("dynamodb:ConditionCheckItem", "t2"),
        ("dynamodb:PutItem", "t1"),
        ("dynamodb:DeleteItem", "t3"),
    ]


def test_a_transactional_read_names_a_get_per_item() -> None:
    params = {"TransactItems": [{"Get": {"TableName": "t1", "Key": {}}}, {"Get": {"TableName": "t2", "Key": {}}}]}
    assert call_actions("dynamodb", "TransactGetItems", params) == [
        ("dynamodb:GetItem", "t1"),
        ("dynamodb:GetItem", "t2"),
    ]


def test_any_other_call_is_its_own_action_on_its_own_resources() -> None:
    assert call_actions("dynamodb", "UpdateItem", {"TableName": "t"}) == [("dynamodb:UpdateItem", None)]
    assert call_actions("sqs", "SendMessage", {"QueueUrl": "q"}) == [("sqs:SendMessage", None)]


def test_the_check_only_a_transaction_makes_grants_the_transaction() -> None:
    assert operation_for("ConditionCheckItem") == "TransactWriteItems"
    assert operation_for("UpdateItem") == "UpdateItem"
