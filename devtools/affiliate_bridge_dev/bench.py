"""``make bench``: the figures the README quotes, each against a floor taken in the same run.

Timings only, never assertions (the suite asserts behaviour). A ratio to a floor measured
a moment before on the same machine means something on another machine; a bare
millisecond figure does not. Every figure is a median of several runs.

1. Cold start: a fresh interpreter loads the Stripe webhook handler as Lambda does
   (Powertools, our package, its boto3 clients), against one that only imports boto3 and
   creates the same two clients; measured in pairs, the ratio is the median of the pairs'
   ratios. A second floor builds those clients as the handler does (edge.aws_clients, on
   the trimmed models), so the share of our own imports stays visible.
2. Warm CPU per webhook: the handler with its AWS answers replayed from a recording, so
   no emulator's CPU is counted, against ``hmac`` + ``json.loads`` on the same body, the
   least any webhook receiver does. Twice: with botocore's Stubber (our code alone: the
   SDK answers before it builds a request), and with the recorded HTTP answers handed back
   in place of the socket (the SDK's serialising, signing and parsing counted too, as
   Lambda bills them, but not urllib3's send or TLS: a lower bound; the cost table uses
   this one).
3. AWS calls per webhook, by scenario (referred by customer id, by merchant key, by email,
   unreferred), counted on the handler's own clients against moto.
4. Forwarder: messages per second to the sandbox API over loopback, against the same
   client posting to the same API with nothing else to do.
5. The embedded AWS: moto's FIFO SendMessage rate and its TransactWriteItems rate on a
   table of 1,000 items, before and after moto_speedups, and
   (bench_embedded_aws) its server's CPU per GetItem and per ledger upsert, as moto ships
   it and as the local stack runs it.
6. Cost per million webhooks on AWS (bench_cost): from the calls counted, the item sizes
   written and read, the CPU measured and the published prices.
7. The local stack (bench_local_stack): a 200-webhook burst from 16 clients against the
   HTTP doorway's own floor, and a webhook while the forwarder waits on a stalled API.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from affiliate_bridge_dev.bench_cost import (
    ASSUMED_AFFILIATE_API_MS,
    ASSUMED_AWS_CALL_MS,
    PRICES,
    PRICES_AS_OF,
    SQS_CHUNK_BYTES,
    Usage,
    item_bytes,
    per_million,
    read_units,
    write_units,
)
from affiliate_bridge_dev.bench_deployed import deployed_cold_start

COLD_START_PAIRS = 9
WARM_RUNS = 400
SECRET = "whsec_bench_fixture_only"  # noqa: S105 - signs benchmark events only
# Secrets must pass the same check as in production (16+ characters, no placeholder).
API_KEY = "bench-partnero-fixture-key"
REFERRALS_TOKEN = "bench-referrals-fixture-token"  # noqa: S105
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "INFO",  # template.yaml's LogLevel default: the log bytes are priced
}
GSI_KEY = "transaction_key"  # ReferralsTable's ByTransactionKey index (projection ALL)


# -- 1. cold start ----------------------------------------------------------------------------
# The child's own peak memory. Linux keeps ru_maxrss across exec, so a child of this
# (moto-laden) process would report the parent's; VmHWM starts afresh with the program.
_PEAK_KB = """
import resource, sys


def peak_kb():
    try:
        with open("/proc/self/status") as status:
            found = next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), None)
    except OSError:
        found = None
    if found is not None:
        return found
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS counts bytes
"""
FLOOR_SCRIPT = (
    _PEAK_KB
    + """
import resource, time
began = time.perf_counter()
import boto3
boto3.client("dynamodb"); boto3.client("sqs")
print(time.perf_counter() - began, peak_kb())
"""
)
# The same clients built as the handlers build them (service models trimmed to the calls
# granted, edge.aws_clients): what is left between this and the handler is our own code.
LEAN_FLOOR_SCRIPT = (
    _PEAK_KB
    + """
import resource, sys, time
began = time.perf_counter()
sys.path[:0] = [{layer!r}]
from affiliate_bridge.edge.aws_clients import table_and_queue_clients
table_and_queue_clients()
print(time.perf_counter() - began, peak_kb())
"""
)
# As Lambda's runtime loads a handler: the function's folder and the layer on the path,
# then ``import app``.
HANDLER_SCRIPT = (
    _PEAK_KB
    + """
import importlib, resource, sys, time
began = time.perf_counter()
sys.path[:0] = [{function!r}, {layer!r}]
importlib.import_module("app")
print(time.perf_counter() - began, peak_kb())
"""
)


def _run(script: str, env: dict[str, str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    seconds, kb = out.stdout.split()
    return float(seconds), float(kb) / 1024


def cold_start() -> dict[str, float]:
    from affiliate_bridge_dev.handlers import REPO_ROOT

    env = {**os.environ, **ENV, "TABLE_NAME": "t", "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q.fifo"}
    handler = HANDLER_SCRIPT.format(
        function=str(REPO_ROOT / "functions/stripe_webhook"), layer=str(REPO_ROOT / "layers/common")
    )
    lean_floor = LEAN_FLOOR_SCRIPT.format(layer=str(REPO_ROOT / "layers/common"))
    pairs = []
    for _ in range(COLD_START_PAIRS):
        floor, floor_mb = _run(FLOOR_SCRIPT, env)
        ours, ours_mb = _run(handler, env)
        lean, _ = _run(lean_floor, env)
        pairs.append((floor, ours, floor_mb, ours_mb, lean))
    return {
        "floor_ms": statistics.median(p[0] for p in pairs) * 1000,
        "handler_ms": statistics.median(p[1] for p in pairs) * 1000,
        "ratio": statistics.median(p[1] / p[0] for p in pairs),
        "lean_floor_ms": statistics.median(p[4] for p in pairs) * 1000,
        "lean_ratio": statistics.median(p[1] / p[4] for p in pairs),
        "floor_rss_mb": statistics.median(p[2] for p in pairs),
        "handler_rss_mb": statistics.median(p[3] for p in pairs),
    }


# -- metering the handlers' own AWS clients ---------------------------------------------------
@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    parsed: dict[str, Any] = field(default_factory=dict)


class Meter:
    """Every call the handler's boto3 clients make, with what they sent and got."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.clients: list[Any] = []

    def attach(self, client: Any) -> None:
        self.clients.append(client)
        service = client.meta.service_model.service_name
        client.meta.events.register(
            "provide-client-params", lambda params, model, **_: self._before(service, model.name, params)
        )
        client.meta.events.register("after-call", lambda parsed, **_: self._after(parsed))

    def _before(self, service: str, operation: str, params: dict[str, Any]) -> None:
        self.calls.append(Call(service, operation, json.loads(json.dumps(params, default=str))))

    def _after(self, parsed: dict[str, Any]) -> None:
        if self.calls and not self.calls[-1].parsed:
            self.calls[-1].parsed = parsed

    @contextlib.contextmanager
    def measuring(self) -> Iterator[list[Call]]:
        start = len(self.calls)
        found: list[Call] = []
        yield found
        found.extend(self.calls[start:])


@contextlib.contextmanager
def metered_clients(meter: Meter) -> Iterator[None]:
    """Every boto3 client made inside (any session: the handlers build theirs from
    ``edge.aws_clients``), joined to the meter."""
    import boto3

    real = boto3.Session.client

    def client(self: Any, *args: Any, **kwargs: Any) -> Any:
        made = real(self, *args, **kwargs)
        meter.attach(made)
        return made

    boto3.Session.client = client
    try:
        yield
    finally:
        boto3.Session.client = real


def usage_of(calls: list[Call], item_size_after: Callable[[Call], int]) -> Usage:
    """Read and write units and SQS requests of some calls (bench_cost's rules)."""
    usage = Usage()
    for call in calls:
        if call.service == "secretsmanager":
            continue  # read once per container and cached (SECRET_CACHE_SECONDS)
        usage.aws_calls += 1
        usage.calls.append(call.operation)
        if call.service == "dynamodb":
            reads, writes = _dynamodb_units(call, item_size_after)
            usage.read_units += reads
            usage.write_units += writes
        elif call.service == "sqs":
            body = call.params.get("MessageBody") or json.dumps(call.params.get("Entries", ""))
            usage.sqs_requests += max(1, -(-len(body.encode()) // SQS_CHUNK_BYTES))
    return usage


def _dynamodb_units(call: Call, item_size_after: Callable[[Call], int]) -> tuple[float, int]:
    consistent = bool(call.params.get("ConsistentRead"))
    if call.operation == "GetItem":
        return read_units(item_bytes(call.parsed.get("Item")), consistent), 0
    if call.operation == "Query":
        return read_units(sum(item_bytes(i) for i in call.parsed.get("Items", [])), consistent), 0
    if call.operation == "BatchGetItem":
        reads = 0.0
        for table, request in call.params["RequestItems"].items():
            found = call.parsed.get("Responses", {}).get(table, [])
            sizes = [item_bytes(item) for item in found] + [0] * (len(request["Keys"]) - len(found))
            reads += sum(read_units(size, bool(request.get("ConsistentRead"))) for size in sizes)
        return reads, 0
    if call.operation in ("PutItem", "UpdateItem", "DeleteItem"):
        item = call.params.get("Item")
        size = item_bytes(item) if item is not None else item_size_after(call)
        indexed = (item is not None and GSI_KEY in item) or (item is None and _indexed(call))
        return 0.0, write_units(size) * (2 if indexed else 1)  # an item in the index is written twice
    if call.operation == "TransactWriteItems":
        bodies = [next(iter(entry.values())) for entry in call.params["TransactItems"]]
        return 0.0, sum(2 * write_units(item_bytes(body["Item"]) if "Item" in body else 1024) for body in bodies)
    return 0.0, 0


def _indexed(call: Call) -> bool:
    return GSI_KEY in (call.parsed.get("Attributes") or {}) or GSI_KEY in json.dumps(call.params)


# -- 2, 3. the webhook: calls by scenario, warm CPU with replayed answers -----------------------
@dataclass
class Rig:
    """The handlers in-process against moto, with metered clients."""

    meter: Meter
    dynamodb: Any
    resources: Any
    stripe: Any
    referrals: Any
    forwarder: Any
    sandbox: Any
    output: io.StringIO  # the handlers' stdout: JSON log lines and EMF metrics
    webhook_log_bytes: list[int] = field(default_factory=list)

    def post_stripe(self, event: dict[str, Any]) -> dict[str, Any]:
        from affiliate_bridge_dev.lambda_events import FakeLambdaContext
        from affiliate_bridge_dev.senders import stripe_signature_header

        body = json.dumps(event).encode()
        headers = {"content-type": "application/json", "stripe-signature": stripe_signature_header(body, SECRET)}
        logged = self.output.tell()
        answer: dict[str, Any] = self.stripe(_url_event(body, headers), FakeLambdaContext("StripeWebhookFunction"))
        self.webhook_log_bytes.append(self.output.tell() - logged)
        return answer

    def refer(self, **body: str) -> None:
        from affiliate_bridge_dev.lambda_events import FakeLambdaContext

        headers = {"content-type": "application/json", "authorization": f"Bearer {REFERRALS_TOKEN}"}
        answer = self.referrals(_url_event(json.dumps(body).encode(), headers), FakeLambdaContext("ReferralsFunction"))
        assert answer["statusCode"] == 201, answer

    def item_size_after(self, call: Call) -> int:
        """The size of the item an UpdateItem or DeleteItem left (DeleteItem: what it removed)."""
        key = call.params.get("Key")
        if not key:
            return 0
        found = self.dynamodb.get_item(TableName=call.params["TableName"], Key=key).get("Item")
        return item_bytes(found) if found else 100


def _url_event(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    from affiliate_bridge_dev.lambda_events import function_url_event

    return function_url_event("POST", "/", body, headers)


@contextlib.contextmanager
def rig() -> Iterator[Rig]:
    import boto3
    from moto import mock_aws

    from affiliate_bridge_dev import moto_speedups
    from affiliate_bridge_dev.handlers import load_handler
    from affiliate_bridge_dev.partnero_sandbox import start_sandbox
    from affiliate_bridge_dev.template_resources import create_resources

    moto_speedups.apply()
    os.environ.update(ENV, POWERTOOLS_METRICS_NAMESPACE="AffiliateBridge")
    sandbox = start_sandbox(API_KEY)
    output = io.StringIO()
    try:
        with mock_aws():
            dynamodb = boto3.client("dynamodb")
            resources = create_resources(dynamodb, boto3.client("sqs"))
            os.environ.update(
                TABLE_NAME=resources.table_name,
                QUEUE_URL=resources.queue_url,
                DEAD_LETTER_QUEUE_URL=resources.dead_letter_queue_url,
                STRIPE_WEBHOOK_SECRET=SECRET,
                REFERRALS_API_TOKEN=REFERRALS_TOKEN,
                PARTNERO_API_URL=sandbox.url,
                PARTNERO_API_KEY=API_KEY,
            )
            meter = Meter()
            with metered_clients(meter), contextlib.redirect_stdout(output):  # Powertools binds stdout here
                stripe, referrals, forwarding = (load_handler(n) for n in ("stripe_webhook", "referrals", "forwarder"))
            with contextlib.redirect_stdout(output):
                yield Rig(meter, dynamodb, resources, stripe, referrals, forwarding, sandbox, output)
    finally:
        sandbox.shutdown()


# "by customer id": the Stripe customer id the referral named; "by merchant key": the
# payment's metadata carries the merchant's customer key (and the known Stripe id).
SCENARIOS = ("referred, by customer id", "referred, by merchant key", "referred, by email", "unreferred")


def scenario_event(scenario: str, n: int) -> dict[str, Any]:
    from affiliate_bridge_dev import stripe_samples as s

    email = f"buyer{n}@example.com" if scenario == "referred, by email" else None
    metadata = {"customer_key": f"u{n}"} if scenario == "referred, by merchant key" else None
    invoice = s.invoice(amount_paid=1000 + n, customer=f"cus_bench{n}", email=email, metadata=metadata)
    return s.event("invoice.paid", invoice)


def webhook_calls(bench: Rig, runs: int = 5) -> dict[str, list[Usage]]:
    """Each scenario's calls per webhook (the handler's own, nothing the test does)."""
    usages: dict[str, list[Usage]] = {}
    for index, scenario in enumerate(SCENARIOS):
        for run in range(runs):
            n = 1000 * (index + 1) + run
            if scenario in ("referred, by customer id", "referred, by merchant key"):
                bench.refer(customer_key=f"u{n}", partner_key="p", stripe_customer_id=f"cus_bench{n}")
            elif scenario == "referred, by email":
                bench.refer(customer_key=f"u{n}", partner_key="p", email=f"buyer{n}@example.com")
            with bench.meter.measuring() as calls:
                assert bench.post_stripe(scenario_event(scenario, n))["statusCode"] == 200
            usage = usage_of(calls, bench.item_size_after)
            usage.invocations = 1
            usages.setdefault(scenario, []).append(usage)
    return usages


def warm_cpu(bench: Rig) -> dict[str, float]:
    """CPU per referred webhook with its AWS answers replayed (no emulator), against the
    floor of verifying and parsing the same body."""
    from botocore import xform_name
    from botocore.stub import Stubber

    n = 99_000
    bench.refer(customer_key=f"u{n}", partner_key="p", stripe_customer_id=f"cus_bench{n}")
    event = scenario_event(SCENARIOS[0], n)
    with bench.meter.measuring() as recorded:
        bench.post_stripe(event)
    clients = {c.meta.service_model.service_name: c for c in bench.meter.clients[:2]}
    stubbers = {name: Stubber(client) for name, client in clients.items()}
    answers = [(call.service, xform_name(call.operation), _without_metadata(call.parsed)) for call in recorded]
    for stubber in stubbers.values():
        stubber.activate()
    try:

        def replayed() -> None:
            for service, operation, parsed in answers:
                stubbers[service].add_response(operation, parsed)
            assert bench.post_stripe(event)["statusCode"] == 200

        ours = _cpu_per_call_us(replayed, WARM_RUNS)
    finally:
        for stubber in stubbers.values():
            stubber.deactivate()
    with_sdk = _cpu_with_http_replayed(bench, event, list(clients.values()))
    body = json.dumps(event).encode()
    payload = f"{int(time.time())}.".encode() + body

    def floor() -> None:
        hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()
        json.loads(body)

    floor_us = _cpu_per_call_us(floor, WARM_RUNS * 50)
    return {
        "webhook_cpu_us": ours,
        "floor_us": floor_us,
        "ratio": ours / floor_us,
        "with_sdk_cpu_us": with_sdk,
        "with_sdk_ratio": with_sdk / floor_us,
    }


class _RecordedBody:
    """What botocore reads a response body from (``AWSResponse.raw``)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _cpu_with_http_replayed(bench: Rig, event: dict[str, Any], clients: list[Any]) -> float:
    """CPU per webhook with each AWS call's recorded HTTP answer returned in place of the
    socket (botocore's ``before-send``): everything the SDK does but the network. moto's
    own ``before-send`` answer is switched off meanwhile: botocore runs every handler and
    takes the first answer, so moto would still do (and be timed doing) each call."""
    from botocore.awsrequest import AWSResponse
    from moto.core.models import botocore_stubber

    answers: list[tuple[str, int, dict[str, str], bytes]] = []

    def record(http_response: Any, model: Any, **_: Any) -> None:
        answers.append((model.name, http_response.status_code, dict(http_response.headers), http_response.content))

    for client in clients:
        client.meta.events.register("after-call", record, unique_id="bench-record")
    try:
        assert bench.post_stripe(event)["statusCode"] == 200
    finally:
        for client in clients:
            client.meta.events.unregister("after-call", unique_id="bench-record")
    pending: list[tuple[str, int, dict[str, str], bytes]] = []
    replayed: list[str] = []

    def answer(request: Any, event_name: str, **_: Any) -> AWSResponse:
        operation, status, headers, content = pending.pop(0)
        assert event_name.endswith(f".{operation}"), f"{event_name} answered with {operation}'s recording"
        replayed.append(operation)
        return AWSResponse(request.url, status, headers, _RecordedBody(content))

    for client in clients:
        client.meta.events.register_first("before-send", answer, unique_id="bench-replay")
    moto_answering, botocore_stubber.enabled = botocore_stubber.enabled, False
    try:

        def webhook() -> None:
            pending[:] = answers
            assert bench.post_stripe(event)["statusCode"] == 200
            assert not pending, "the webhook made fewer calls than were recorded"

        cpu = _cpu_per_call_us(webhook, WARM_RUNS)
        assert replayed and len(replayed) % len(answers) == 0, "a recorded answer was not the one used"
        return cpu
    finally:
        botocore_stubber.enabled = moto_answering
        for client in clients:
            client.meta.events.unregister("before-send", unique_id="bench-replay")


def _without_metadata(parsed: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parsed.items() if k != "ResponseMetadata"}


def _cpu_per_call_us(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    samples = []
    for _ in range(5):
        began = time.process_time()
        for _ in range(repeat // 5):
            fn()
        samples.append((time.process_time() - began) / (repeat // 5))
    return statistics.median(samples) * 1e6


# -- 4. the forwarder -------------------------------------------------------------------------
def forwarder(bench: Rig, messages: int = 300) -> dict[str, Any]:
    import boto3
    import requests

    from affiliate_bridge_dev.event_source_mapping import EventSourceMapping

    # The poller's own client (Lambda's, not the function's: the handler's clients know
    # only the calls the functions are granted), metered for its share per message.
    sqs = boto3.client("sqs")
    bench.meter.attach(sqs)
    for n in range(messages):
        bench.refer(customer_key=f"f{n}", partner_key="p", stripe_customer_id=f"cus_fwd{n}")
        from affiliate_bridge_dev import stripe_samples as s

        bench.post_stripe(s.event("invoice.paid", s.invoice(amount_paid=1000 + n, customer=f"cus_fwd{n}")))
    api_calls_before = len(bench.sandbox.state.requests)
    mapping = EventSourceMapping(sqs, bench.resources.queue_url, bench.forwarder, batch_size=10)
    logged = bench.output.tell()
    with bench.meter.measuring() as calls:
        began, cpu = time.perf_counter(), time.process_time()
        mapping.drain(timeout_seconds=300)
        seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
    log_bytes = (bench.output.tell() - logged) // messages
    forwarded = len(bench.sandbox.state.active_transactions())
    # A figure from a pipeline that lost messages would measure the wrong thing.
    assert forwarded >= messages, f"{forwarded} of {messages} forwarded"
    api_calls = len(bench.sandbox.state.requests) - api_calls_before
    # Lambda's poller makes no empty receives count and no queue-depth checks (drain's own).
    polled = [
        c
        for c in calls
        if (c.operation != "ReceiveMessage" or c.parsed.get("Messages")) and c.operation != "GetQueueAttributes"
    ]
    usage = usage_of(polled, _no_size)
    # The floor: the same client library posting the same kind of request, nothing else.
    session = requests.Session()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    began = time.perf_counter()
    for n in range(messages):
        body = {"key": f"floor-{n}", "customer": {"key": "f0"}, "amount": 1.0, "amount_units": "usd"}
        session.post(f"{bench.sandbox.url}/v1/transactions", json=body, headers=headers, timeout=10)
    floor_seconds = time.perf_counter() - began
    per_message = Usage(
        invocations=1 / 10,  # batches of ten
        cpu_ms=cpu_seconds / messages * 1000,
        aws_calls=usage.aws_calls / messages,
        affiliate_calls=api_calls / messages,
        read_units=usage.read_units / messages,
        write_units=usage.write_units / messages,
        sqs_requests=usage.sqs_requests / messages,
        log_bytes=log_bytes,
    )
    return {
        "messages_per_s": messages / seconds,
        "floor_per_s": messages / floor_seconds,
        "ratio": (messages / seconds) / (messages / floor_seconds),
        "per_message": per_message,
        "aws_calls_per_message": usage.aws_calls / messages,
        "api_calls_per_message": api_calls / messages,
    }


def _no_size(call: Call) -> int:
    return 300  # a payment state or attempt item: a few hundred bytes, one write unit


# -- 5. the embedded AWS ----------------------------------------------------------------------
def moto_fifo_sends(messages: int = 400) -> dict[str, float]:
    """In-process moto, a FIFO queue filling up: sends per second in the second half."""
    import boto3
    from moto import mock_aws

    from affiliate_bridge_dev import moto_speedups

    def rate() -> float:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName="bench.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
            began = 0.0
            for n in range(messages):
                if n == messages // 2:
                    began = time.perf_counter()
                sqs.send_message(
                    QueueUrl=url, MessageBody="m" * 500, MessageGroupId=str(n % 40), MessageDeduplicationId=str(n)
                )
            return (messages // 2) / (time.perf_counter() - began)

    moto_speedups.remove()
    before = rate()
    moto_speedups.apply()
    after = rate()
    return {"before_per_s": before, "after_per_s": after, "ratio": after / before}


def moto_transactions(stored: int = 1000, transactions: int = 50) -> dict[str, float]:
    """In-process moto: two-operation TransactWriteItems per second on a table already
    holding ``stored`` items, as moto ships it and with moto_transaction_speedups."""
    import boto3
    from moto import mock_aws

    from affiliate_bridge_dev import moto_speedups

    def rate() -> float:
        with mock_aws():
            dynamodb = boto3.client("dynamodb", region_name="us-east-1")
            dynamodb.create_table(
                TableName="bench",
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            )
            filler = {f"a{n}": {"S": "x" * 20} for n in range(12)}
            for n in range(stored):
                dynamodb.put_item(TableName="bench", Item={"pk": {"S": f"old#{n}"}, **filler})
            began = time.perf_counter()
            for n in range(transactions):
                dynamodb.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": "bench", "Item": {"pk": {"S": f"new#{n}"}}}},
                        {
                            "Update": {
                                "TableName": "bench",
                                "Key": {"pk": {"S": f"old#{n}"}},
                                "UpdateExpression": "ADD copies :c",
                                "ExpressionAttributeValues": {":c": {"SS": [f"new#{n}"]}},
                            }
                        },
                    ]
                )
            return transactions / (time.perf_counter() - began)

    moto_speedups.remove()
    before = rate()
    moto_speedups.apply()
    after = rate()
    return {"before_per_s": before, "after_per_s": after, "ratio": after / before}


# -- the run ----------------------------------------------------------------------------------
def say(line: str) -> None:
    print(line, flush=True)


def main() -> None:
    print(f"python {sys.version.split()[0]} on {os.uname().machine}, {os.cpu_count()} cores", flush=True)
    with contextlib.redirect_stdout(io.StringIO()):
        moto = moto_fifo_sends()
    say(
        f"moto FIFO SendMessage, 200 sends into a queue holding 200   before {moto['before_per_s']:7.0f}/s"
        f"   after {moto['after_per_s']:7.0f}/s   x{moto['ratio']:.1f}"
    )
    with contextlib.redirect_stdout(io.StringIO()):
        transactions = moto_transactions()
    say(
        f"moto TransactWriteItems of two writes, on a table of 1,000 items   before"
        f" {transactions['before_per_s']:7.0f}/s   after {transactions['after_per_s']:7.0f}/s"
        f"   x{transactions['ratio']:.1f}"
    )
    from affiliate_bridge_dev.bench_embedded_aws import server_cpu_per_request

    server = server_cpu_per_request()
    say(
        f"moto server CPU per GetItem        as shipped {server['before_get_item_ms']:5.2f} ms"
        f"   as the stack runs it {server['after_get_item_ms']:5.2f} ms   ratio {server['get_item_ratio']:.2f}"
    )
    say(
        f"moto server CPU per ledger upsert  as shipped {server['before_update_ms']:5.2f} ms"
        f"   as the stack runs it {server['after_update_ms']:5.2f} ms   ratio {server['update_ratio']:.2f}"
    )
    cold = cold_start()
    say(
        f"cold start: handler + clients {cold['handler_ms']:6.0f} ms"
        f"   boto3 + the two clients {cold['floor_ms']:6.0f} ms"
        f"   ratio {cold['ratio']:.2f}   (max RSS {cold['handler_rss_mb']:.0f} vs {cold['floor_rss_mb']:.0f} MB)"
    )
    say(
        f"cold start: our code's share: the same clients from the trimmed models {cold['lean_floor_ms']:6.0f} ms"
        f"   ratio {cold['lean_ratio']:.2f}"
    )
    deployed = deployed_cold_start()
    if isinstance(deployed, str):
        say(f"cold start as deployed: not measured ({deployed})")
    else:
        say(
            f"cold start as deployed (make build, python3.13): with bytecode {deployed['compiled_ms']:6.0f} ms"
            f"   as sam build alone leaves it {deployed['source_ms']:6.0f} ms   ratio {deployed['ratio']:.2f}"
        )
    with rig() as bench:
        calls = webhook_calls(bench)
        log_bytes = int(statistics.median(bench.webhook_log_bytes))
        warm = warm_cpu(bench)
        forwarding = forwarder(bench)
    say(
        f"warm CPU per referred webhook (AWS answers replayed) {warm['webhook_cpu_us']:8.0f} us"
        f"   hmac + json.loads {warm['floor_us']:5.1f} us   ratio {warm['ratio']:.0f}"
    )
    say(
        f"  the same, the SDK's request work included (HTTP answers replayed) {warm['with_sdk_cpu_us']:8.0f} us"
        f"   ratio {warm['with_sdk_ratio']:.0f}"
    )
    say("AWS calls per webhook:")
    for scenario, usages in calls.items():
        say(f"  {scenario:<26} {usages[0].aws_calls:.0f}   ({', '.join(usages[0].calls)})")
    say(
        f"forwarder (moto and the sandbox in-process): {forwarding['messages_per_s']:6.1f} messages/s"
        f"   the bare API client {forwarding['floor_per_s']:6.1f}"
        f" requests/s   ratio {forwarding['ratio']:.2f}   ({forwarding['aws_calls_per_message']:.1f} AWS calls,"
        f" {forwarding['api_calls_per_message']:.2f} API calls per message)"
    )
    say(
        f"cost per million webhooks (us-east-1 prices of {PRICES_AS_OF};"
        f" each AWS round trip {ASSUMED_AWS_CALL_MS:.0f} ms,"
        f" each affiliate API call {ASSUMED_AFFILIATE_API_MS:.0f} ms of billed wait; the forwarder's CPU includes"
        " the in-process emulators', an upper bound):"
    )
    forwarded: Usage = forwarding["per_message"]
    for scenario, usages in calls.items():
        webhook = _mean_usage(usages, warm["with_sdk_cpu_us"] / 1000, log_bytes)
        parts = [webhook] + ([forwarded] if scenario.startswith("referred") else [])
        cost = per_million(parts)
        lines = "  ".join(f"{name} ${value:.2f}" for name, value in cost.items() if name != "total")
        say(f"  {scenario:<26} ${cost['total']:5.2f}   ({lines})")
    say(f"prices: {json.dumps(PRICES)}")
    from affiliate_bridge_dev.bench_local_stack import BURST, CLIENTS, burst_and_stall

    stack = burst_and_stall()
    say(
        f"local stack: {BURST} referred webhooks from {CLIENTS} clients {stack['accepted_per_s']:6.1f} accepted/s"
        f"   GET /health from the same clients {stack['health_per_s']:6.1f}/s   ratio {stack['ratio']:.2f}"
    )
    say(
        f"local stack: {BURST} first sales of customers referred by email {stack['accepted_by_email_per_s']:6.1f}"
        f" accepted/s   ratio to the same floor {stack['by_email_ratio']:.2f}"
    )
    say(
        f"local stack: a webhook while the forwarder waits on an API stalled for 8 s"
        f" {stack['stalled_webhook_ms']:5.0f} ms"
        f"   with nothing stalled {stack['webhook_ms']:5.0f} ms   ratio {stack['stall_ratio']:.2f}"
    )


def _mean_usage(usages: list[Usage], cpu_ms: float, log_bytes: int) -> Usage:
    return Usage(
        invocations=1,
        cpu_ms=cpu_ms,
        aws_calls=statistics.mean(u.aws_calls for u in usages),
        read_units=statistics.mean(u.read_units for u in usages),
        write_units=statistics.mean(u.write_units for u in usages),
        sqs_requests=statistics.mean(u.sqs_requests for u in usages),
        log_bytes=log_bytes,
    )


if __name__ == "__main__":
    main()
