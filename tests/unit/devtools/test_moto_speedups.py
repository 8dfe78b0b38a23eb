"""The moto patches change how fast queues and queries answer, never what they answer,
make each DynamoDB request atomic, as DynamoDB's are, and keep a FIFO group to one
message in flight, as SQS does."""

from __future__ import annotations

import copy
import io
import json
import threading
import zipfile
from typing import Any
from urllib.parse import ParseResult, urlparse

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.executors import UpdateExpressionExecutor
from moto.dynamodb.responses import DynamoHandler
from moto.sqs.models import Queue, SQSBackend

from affiliate_bridge_dev import moto_speedups
from tests.unit.devtools.moto_tables import create_table

# Taken before any test applies the patches.
ORIGINAL = Queue.attributes
ORIGINAL_QUERY, ORIGINAL_ALL_ITEMS = Table.query, Table.all_items
ORIGINAL_CALL_ACTION = DynamoHandler.call_action
ORIGINAL_RECEIVE = SQSBackend.receive_message


def _queues(sqs: Any) -> list[Queue]:
    dead = sqs.create_queue(QueueName="dead.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(QueueName="plain")
    sqs.create_queue(QueueName="kms", Attributes={"KmsMasterKeyId": "alias/aws/sqs"})
    sqs.create_queue(
        QueueName="main.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "VisibilityTimeout": "42",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 3}),
            "Policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
        },
    )
    from moto.sqs.models import sqs_backends

    return list(sqs_backends["123456789012"]["us-east-1"].queues.values())


@pytest.fixture
def patched() -> Any:
    moto_speedups.apply()
    yield
    _unpatch()


def _unpatch() -> None:
    moto_speedups.remove()
    assert Queue.attributes is ORIGINAL and DynamoHandler.call_action is ORIGINAL_CALL_ACTION
    assert SQSBackend.receive_message is ORIGINAL_RECEIVE
    assert (Table.query, Table.all_items) == (ORIGINAL_QUERY, ORIGINAL_ALL_ITEMS)


def test_every_attribute_reads_the_same_with_the_patch(patched: None) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        queues = _queues(sqs)
        for queue in queues:
            sqs.send_message(QueueUrl=queue.url(_url()), MessageBody="m", **_fifo(queue))
        for queue in queues:
            lazy = Queue.attributes.fget(queue)  # type: ignore[attr-defined]
            built = ORIGINAL.fget(queue)  # type: ignore[attr-defined]
            assert dict(lazy) == built, queue.name
            assert lazy == built and len(lazy) == len(built) and set(lazy) == set(built)
            assert lazy.get("NoSuchAttribute") is None
        # Through the API too: a full GetQueueAttributes is unchanged.
        answers = {
            queue.name: sqs.get_queue_attributes(QueueUrl=queue.url(_url()), AttributeNames=["All"])["Attributes"]
            for queue in queues
        }
    assert answers["main.fifo"]["ContentBasedDeduplication"] == "true"
    assert answers["main.fifo"]["ApproximateNumberOfMessages"] == "1"
    assert json.loads(answers["main.fifo"]["RedrivePolicy"])["maxReceiveCount"] == 3
    assert "KmsMasterKeyId" in answers["kms"] and "FifoQueue" not in answers["plain"]


def test_a_fifo_send_no_longer_counts_the_queue(patched: None, monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[str] = []
    original = Queue.approximate_number_of_messages.fget  # type: ignore[attr-defined]

    def counting(queue: Queue) -> int:
        counted.append(queue.name)
        return int(original(queue))

    monkeypatch.setattr(Queue, "approximate_number_of_messages", property(counting))
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        for n in range(5):
            sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId=str(n))
        assert counted == []  # unpatched, each send counts the queue four times
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "5" and counted


def _fifo(queue: Queue) -> dict[str, str]:
    return {"MessageGroupId": "g", "MessageDeduplicationId": "d"} if queue.fifo_queue else {}


def _url() -> ParseResult:
    return urlparse("https://sqs.us-east-1.amazonaws.com/")


# -- DynamoDB: a base-table Query reads only its partition -----------------------------------
PARTITIONS = ["PAYMENT#a", "PAYMENT#b", "REF#c"]
QUERIES = st.fixed_dictionaries(
    {
        "pk": st.sampled_from([*PARTITIONS, "NONE#z"]),
        "range": st.sampled_from([None, "begins", "between", "gt"]),
        "forward": st.booleans(),
        "limit": st.sampled_from([None, 1, 2, 5]),
        "filter": st.booleans(),
    }
)
ITEMS = st.lists(
    st.tuples(
        st.sampled_from(PARTITIONS),
        st.sampled_from(["A#1", "A#2", "ATTEMPT#3", "B#1", "STATE", "Z"]),
        st.integers(0, 9),
    ),
    max_size=25,
)


def _query_pages(dynamodb: Any, query: dict[str, Any]) -> list[Any]:
    names = {"#pk": "pk"}
    values: dict[str, Any] = {":pk": {"S": query["pk"]}}
    condition = "#pk = :pk"
    if query["range"] == "begins":
        condition += " AND begins_with(sk, :p)"
        values[":p"] = {"S": "A"}
    elif query["range"] == "between":
        condition += " AND sk BETWEEN :lo AND :hi"
        values.update({":lo": {"S": "A#2"}, ":hi": {"S": "B#1"}})
    elif query["range"] == "gt":
        condition += " AND sk > :lo"
        values[":lo"] = {"S": "ATTEMPT#3"}
    kwargs: dict[str, Any] = {
        "TableName": "t",
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": query["forward"],
    }
    if query["limit"]:
        kwargs["Limit"] = query["limit"]
    if query["filter"]:
        kwargs["FilterExpression"] = "n > :n"
        values[":n"] = {"N": "3"}
    pages = []
    while True:
        page = dynamodb.query(**kwargs)
        pages.append((page["Items"], page.get("LastEvaluatedKey"), page["Count"]))
        if "LastEvaluatedKey" not in page:
            return pages
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=ITEMS, queries=st.lists(QUERIES, min_size=1, max_size=4))
def test_a_base_table_query_answers_the_same_with_the_patch(items: list[Any], queries: list[Any]) -> None:
    answers = []
    for patch in (False, True):
        if patch:
            moto_speedups.apply()
        try:
            with mock_aws():
                dynamodb = boto3.client("dynamodb", region_name="us-east-1")
                create_table(dynamodb, "t", "pk", "sk")
                for pk, sk, n in items:
                    dynamodb.put_item(TableName="t", Item={"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": str(n)}})
                answers.append([_query_pages(dynamodb, query) for query in queries])
        finally:
            _unpatch()
    assert answers[0] == answers[1]


def test_a_base_table_query_no_longer_lists_the_table(patched: None, monkeypatch: pytest.MonkeyPatch) -> None:
    listed: list[int] = []
    partitioned = Table.all_items

    def counting(table: Table) -> Any:
        found = partitioned(table)
        listed.append(len(found))
        return found

    monkeypatch.setattr(Table, "all_items", counting)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(dynamodb, "t", "pk", "sk")
        for n in range(30):
            dynamodb.put_item(TableName="t", Item={"pk": {"S": f"P#{n % 10}"}, "sk": {"S": f"S#{n}"}})
        found = dynamodb.query(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P#3"}}
        )["Items"]
    assert len(found) == 3
    assert listed == [3]  # unpatched: all 30 items, listed and sorted, for one partition


def _read_during_an_update(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any] | None:
    """Hold an UpdateItem that creates an item half way (moto has stored the key, not yet
    the attributes), read the item from another thread meanwhile, then let the update
    finish: what did the reader see?"""
    halfway, finish = threading.Event(), threading.Event()
    execute = UpdateExpressionExecutor.execute

    def held(executor: UpdateExpressionExecutor, *args: Any, **kwargs: Any) -> Any:
        if not halfway.is_set():
            halfway.set()
            finish.wait(5)
        return execute(executor, *args, **kwargs)

    monkeypatch.setattr(UpdateExpressionExecutor, "execute", held)
    seen: list[dict[str, Any] | None] = []
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(dynamodb, "t", "pk")
        where = {"pk": {"S": "PARKED#1"}}
        writer = threading.Thread(
            target=dynamodb.update_item,
            kwargs={
                "TableName": "t",
                "Key": where,
                "UpdateExpression": "SET amount = :a",
                "ExpressionAttributeValues": {":a": {"N": "2000"}},
            },
        )
        reader = threading.Thread(
            target=lambda: seen.append(dynamodb.get_item(TableName="t", Key=where, ConsistentRead=True).get("Item"))
        )
        writer.start()
        assert halfway.wait(5)
        reader.start()
        reader.join(0.3)  # unpatched, the read is answered now, mid-update
        finish.set()
        writer.join(5)
        reader.join(5)
    return seen[0]


def test_a_read_never_sees_an_item_half_written_with_the_patch(patched: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _read_during_an_update(monkeypatch) == {"pk": {"S": "PARKED#1"}, "amount": {"N": "2000"}}


def test_unpatched_moto_shows_a_half_written_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the lock exists: should moto make UpdateItem atomic itself, this fails and the
    lock can go."""
    assert _read_during_an_update(monkeypatch) == {"pk": {"S": "PARKED#1"}}


def _one_group_of_two(sqs: Any, name: str) -> str:
    """A FIFO queue holding two messages, "one" then "two", of one group (one payment)."""
    url: str = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})[
        "QueueUrl"
    ]
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="payment")
    return url


def _two_receives_at_once(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Two ReceiveMessage calls on a FIFO queue holding two messages of one group: the
    first pauses right after moto has copied the groups in flight (up to a second, or
    until the second call is done), as a thread switch there would. The bodies both got."""
    import moto.sqs.models as sqs_models

    real_deepcopy = copy.deepcopy  # what moto.sqs.models imports as deepcopy
    first_copied, second_done = threading.Event(), threading.Event()

    def deepcopy(value: Any, *args: Any) -> Any:
        copied = real_deepcopy(value, *args)
        if isinstance(value, set) and threading.current_thread().name == "first" and not first_copied.is_set():
            first_copied.set()
            second_done.wait(1)
        return copied

    monkeypatch.setattr(sqs_models, "deepcopy", deepcopy)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = _one_group_of_two(sqs, "groups.fifo")
        got: list[str] = []

        def receive() -> None:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0)
            got.extend(message["Body"] for message in answer.get("Messages", []))

        first = threading.Thread(target=receive, name="first")
        first.start()
        assert first_copied.wait(5)
        receive()
        second_done.set()
        first.join(5)
    return got


def test_a_fifo_group_never_has_two_messages_in_flight_with_the_patch(
    patched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _two_receives_at_once(monkeypatch) == ["one"]


def test_unpatched_moto_hands_out_two_messages_of_one_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the receive lock exists: should moto lock its receive itself, this fails and
    the lock can go."""
    assert sorted(_two_receives_at_once(monkeypatch)) == ["one", "two"]


def test_a_long_poll_waits_for_its_group_then_gets_the_next_message(patched: None) -> None:
    """The waiting is done outside the lock: a long poll blocked on a group in flight
    gets the group's next message once the first is deleted, and meanwhile another
    queue answers at once."""
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = _one_group_of_two(sqs, "wait.fifo")
        other = sqs.create_queue(QueueName="other")["QueueUrl"]
        held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
        waited: list[Any] = []
        poll = threading.Thread(
            target=lambda: waited.append(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=5))
        )
        poll.start()
        sqs.send_message(QueueUrl=other, MessageBody="elsewhere")
        assert sqs.receive_message(QueueUrl=other, WaitTimeSeconds=0)["Messages"][0]["Body"] == "elsewhere"
        assert poll.is_alive()  # still waiting: "one" is in flight
        sqs.delete_message(QueueUrl=url, ReceiptHandle=held["ReceiptHandle"])
        poll.join(5)
        assert [m["Body"] for m in waited[0]["Messages"]] == ["two"]


def test_a_long_poll_on_a_group_in_flight_does_not_spin(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's own wait returns at once while any message is visible, even one whose group
    is in flight, so its long poll retried without pause (a core's worth of CPU per
    waiting poller). Counted, not timed: a 1 s poll makes at most one attempt per idle
    step of 20 ms."""
    attempts: list[int] = []
    real_receive = SQSBackend.receive_message

    def counting(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        return real_receive(*args, **kwargs)

    monkeypatch.setattr(SQSBackend, "receive_message", counting)
    moto_speedups.apply()
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = _one_group_of_two(sqs, "spin.fifo")
            sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
            attempts.clear()
            assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
    finally:
        moto_speedups.remove()
    assert 2 <= len(attempts) <= 60


def test_a_receive_that_moves_a_message_to_a_mapped_dead_letter_queue_returns(patched: None) -> None:
    """Moving a message to a dead-letter queue with an event source mapping makes moto
    receive from that queue inside the receive: the lock is not taken twice."""
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        lambdas = boto3.client("lambda", region_name="us-east-1")
        role = boto3.client("iam", region_name="us-east-1").create_role(
            RoleName="dead-letters", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handle(event, context):\n    return None\n")
        lambdas.create_function(
            FunctionName="drain",
            Runtime="python3.12",
            Role=role,
            Handler="handler.handle",
            Code={"ZipFile": code.getvalue()},
        )
        dead = sqs.create_queue(QueueName="dead")["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lambdas.create_event_source_mapping(EventSourceArn=dead_arn, FunctionName="drain", BatchSize=1)
        redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 1})
        main = sqs.create_queue(QueueName="main", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": redrive})
        sqs.send_message(QueueUrl=main["QueueUrl"], MessageBody="poison")
        assert len(sqs.receive_message(QueueUrl=main["QueueUrl"])["Messages"]) == 1
        answers: list[Any] = []
        second = threading.Thread(
            target=lambda: answers.append(sqs.receive_message(QueueUrl=main["QueueUrl"])), daemon=True
        )
        second.start()
        second.join(10)
        assert not second.is_alive(), "the receive that moves the message never returned"
        assert "Messages" not in answers[0]
