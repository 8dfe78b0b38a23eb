"""The trimmed service models the functions build their clients from (edge.aws_clients).

They must be current (cut from the botocore installed, for the calls the template grants),
describe each kept call exactly as botocore's full model does, and leave nothing else on
the clients, so a call no policy grants fails in the tests, not in AWS.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.model import ServiceModel, Shape

from affiliate_bridge.edge.aws_clients import MODELS_DIR, SERVICES, table_and_queue_clients
from affiliate_bridge_dev.aws_models import expected_files, full_model, granted_operations, present_files, trimmed


def test_the_committed_models_are_the_ones_the_template_and_botocore_give() -> None:
    expected = expected_files()
    on_disk = {path: path.read_text(encoding="utf-8") for path in present_files()}
    assert set(on_disk) == set(expected), "aws_models drifted: run scripts/trim-aws-models"
    for path, text in expected.items():
        assert on_disk[path] == text, f"{path.name} of {path.parent.parent.name} drifted: run scripts/trim-aws-models"


def test_the_functions_clients_offer_exactly_the_granted_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    granted = granted_operations()
    dynamodb, sqs = table_and_queue_clients()
    for service, client in (("dynamodb", dynamodb), ("sqs", sqs)):
        assert set(client.meta.service_model.operation_names) == granted[service]
    assert granted["dynamodb"] >= {"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "Query"}
    assert hasattr(dynamodb, "batch_get_item") and not hasattr(dynamodb, "delete_table")
    assert hasattr(sqs, "send_message") and not hasattr(sqs, "purge_queue")


def _tree(shape: Shape | None, seen: tuple[str, ...] = ()) -> Any:
    """Everything a serializer or parser reads from a shape, recursively (a shape met again
    on its own path, as DynamoDB's AttributeValue nests itself, is named, not expanded)."""
    if shape is None:
        return None
    if shape.name in seen:
        return ("recursive", shape.name)
    seen = (*seen, shape.name)
    metadata = {k: v for k, v in shape.metadata.items() if k != "documentation"}
    node: dict[str, Any] = {
        "name": shape.name,
        "type": shape.type_name,
        "serialization": shape.serialization,
        "metadata": metadata,
    }
    if shape.type_name == "structure":
        node["members"] = {name: _tree(member, seen) for name, member in shape.members.items()}
    elif shape.type_name == "list":
        node["member"] = _tree(shape.member, seen)
    elif shape.type_name == "map":
        node["key"], node["value"] = _tree(shape.key, seen), _tree(shape.value, seen)
    return node


@pytest.mark.parametrize("service", SERVICES)
def test_every_kept_call_is_described_as_in_the_full_model(service: str) -> None:
    _, full = full_model(service)
    operations = granted_operations()[service]
    full_model_, cut = ServiceModel(full, service), ServiceModel(trimmed(full, operations), service)
    assert cut.metadata == full_model_.metadata
    assert cut.protocol == full_model_.protocol
    for name in operations:
        theirs, ours = full_model_.operation_model(name), cut.operation_model(name)
        assert _tree(ours.input_shape) == _tree(theirs.input_shape), name
        assert _tree(ours.output_shape) == _tree(theirs.output_shape), name
        assert [e.name for e in ours.error_shapes] == [e.name for e in theirs.error_shapes], name
        assert ours.http == theirs.http and ours.metadata == theirs.metadata, name
        assert ours.context_parameters == theirs.context_parameters, name
        assert ours.static_context_parameters == theirs.static_context_parameters, name


def test_a_call_the_model_lacks_is_refused_when_trimming() -> None:
    _, full = full_model("sqs")
    with pytest.raises(ValueError, match="NoSuchCall"):
        trimmed(full, {"SendMessage", "NoSuchCall"})


def test_the_comparison_sees_a_dropped_member() -> None:
    """The tree comparison above can fail: a model missing one member is told apart."""
    _, full = full_model("dynamodb")
    cut = trimmed(full, {"GetItem"})
    del cut["shapes"]["GetItemInput"]["members"]["ConsistentRead"]
    theirs = ServiceModel(full, "dynamodb").operation_model("GetItem")
    ours = ServiceModel(cut, "dynamodb").operation_model("GetItem")
    assert _tree(ours.input_shape) != _tree(theirs.input_shape)


def test_the_two_clients_skip_botocores_service_listing_and_others_still_build(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.loaders import Loader

    from affiliate_bridge.edge.aws_clients import session

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    listed: list[str] = []
    real = Loader.list_available_services

    def listing(self: Loader, type_name: str) -> list[str]:
        listed.append(type_name)
        return real(self, type_name)  # type: ignore[no-any-return]

    monkeypatch.setattr(Loader, "list_available_services", listing)
    made = session()
    dynamodb = made.client("dynamodb")
    assert made.client("sqs").meta.service_model.operation_names
    assert listed == []
    # Files the trimmed folder lacks still come from botocore (here the endpoint rules).
    assert dynamodb.meta.endpoint_url == "https://dynamodb.us-east-1.amazonaws.com"
    # Assumed roles and SSO need STS from the same session: any other service still loads.
    assert made.client("sts").meta.service_model.service_name == "sts"
    assert listed, "another service is confirmed by botocore's own listing"


def test_the_session_still_honours_aws_data_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from affiliate_bridge.edge.aws_clients import session

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    loader = session()._session.get_component("data_loader")
    assert loader.search_paths[:2] == [str(MODELS_DIR), str(tmp_path)]


def test_a_grant_the_trimmer_cannot_read_is_refused() -> None:
    """A SAM policy template or a managed policy would grant calls nobody trimmed in."""
    for policy in ({"DynamoDBCrudPolicy": {"TableName": "t"}}, "arn:aws:iam::aws:policy/AmazonSQSFullAccess"):
        template = {"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"Policies": [policy]}}}}
        with pytest.raises(ValueError, match="not an inline policy"):
            granted_operations(template)
