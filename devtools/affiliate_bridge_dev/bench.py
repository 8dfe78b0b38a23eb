"""``make bench``: the figures the README quotes. Timings only, never assertions.

1. Cold start: a fresh interpreter imports the Stripe webhook handler (Powertools,
   boto3 clients, our package), against ``import stripe`` alone for comparison.
2. Hot path: signature check (ours vs ``stripe.Webhook.construct_event``), event
   normalisation, and a full handler invocation against moto in-process.
3. Forwarder: messages per second through the Powertools batch processor to the
   sandbox API over loopback.
4. Peak memory (max RSS) of the cold-start process.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

COLD_START_RUNS = 5
SECRET = "whsec_bench_fixture_only"  # noqa: S105 - signs benchmark events only
# Secrets must pass the same check as in production (16+ characters, no placeholder):
# with a short one the referrals function answers 500 and nothing is forwarded.
API_KEY = "bench-partnero-fixture-key"
REFERRALS_TOKEN = "bench-referrals-fixture-token"  # noqa: S105


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _per_call_us(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    began = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - began) / repeat * 1e6


COLD_SCRIPT = """
import os, resource, sys, time
began = time.perf_counter()
sys.path[:0] = [{layer!r}, {devtools!r}]
from affiliate_bridge_dev.handlers import load_function_module
load_function_module("stripe_webhook")
elapsed = time.perf_counter() - began
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def cold_start() -> dict[str, float]:
    from affiliate_bridge_dev.handlers import REPO_ROOT

    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": "t",
        "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q.fifo",
    }
    script = COLD_SCRIPT.format(layer=str(REPO_ROOT / "layers/common"), devtools=str(REPO_ROOT / "devtools"))
    handler: list[float] = []
    traced: list[float] = []
    rss: list[float] = []
    stripe_import: list[float] = []
    for _ in range(COLD_START_RUNS):
        for tracing_disabled, samples in (("true", handler), ("false", traced)):
            out = subprocess.run(
                [sys.executable, "-c", script],
                env={**env, "POWERTOOLS_TRACE_DISABLED": tracing_disabled},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            seconds, kb = out.split()
            samples.append(float(seconds))
            if tracing_disabled == "true":
                rss.append(float(kb) / 1024)
        out = subprocess.run(
            [sys.executable, "-c", "import time; t=time.perf_counter(); import stripe; print(time.perf_counter()-t)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        stripe_import.append(float(out))
    return {
        "handler_import_ms": _median_ms(handler),
        "handler_import_traced_ms": _median_ms(traced),
        "import_stripe_ms": _median_ms(stripe_import),
        "max_rss_mb": statistics.median(rss),
    }


def hot_path() -> dict[str, float]:
    import stripe

    from affiliate_bridge.domain.events import EventRules
    from affiliate_bridge.providers.stripe.events import normalise_stripe_event
    from affiliate_bridge.providers.stripe.signature import verify_stripe_signature
    from affiliate_bridge_dev import stripe_samples as s
    from affiliate_bridge_dev.senders import stripe_signature_header

    event = s.event("invoice.paid", s.invoice(amount_paid=4900, customer="cus_1", tax=500))
    body = json.dumps(event).encode()
    header = stripe_signature_header(body, SECRET)
    rules = EventRules()
    payload = json.loads(body)
    return {
        "verify_ours_us": _per_call_us(lambda: verify_stripe_signature(body, header, (SECRET,)), 20_000),
        "construct_event_stripe_us": _per_call_us(lambda: stripe.Webhook.construct_event(body, header, SECRET), 2_000),
        "normalise_us": _per_call_us(lambda: normalise_stripe_event(payload, rules), 20_000),
    }


def pipeline() -> dict[str, float]:
    import boto3
    from moto import mock_aws

    from affiliate_bridge_dev import stripe_samples as s
    from affiliate_bridge_dev.event_source_mapping import EventSourceMapping
    from affiliate_bridge_dev.handlers import load_handler
    from affiliate_bridge_dev.lambda_events import FakeLambdaContext, function_url_event
    from affiliate_bridge_dev.partnero_sandbox import start_sandbox
    from affiliate_bridge_dev.senders import stripe_signature_header
    from affiliate_bridge_dev.template_resources import create_resources

    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto's fake credential
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    sandbox = start_sandbox(API_KEY)
    events = 300
    try:
        with mock_aws():
            dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
            resources = create_resources(dynamodb, sqs)
            os.environ.update(
                TABLE_NAME=resources.table_name,
                QUEUE_URL=resources.queue_url,
                DEAD_LETTER_QUEUE_URL=resources.dead_letter_queue_url,
                STRIPE_WEBHOOK_SECRET=SECRET,
                REFERRALS_API_TOKEN=REFERRALS_TOKEN,
                PARTNERO_API_URL=sandbox.url,
                PARTNERO_API_KEY=API_KEY,
            )
            stripe_handler, referrals, forwarder = (
                load_handler(n) for n in ("stripe_webhook", "referrals", "forwarder")
            )
            context = FakeLambdaContext("bench")
            for i in range(events):
                referral = json.dumps({"customer_key": f"u{i}", "partner_key": "p", "stripe_customer_id": f"cus_{i}"})
                headers = {"content-type": "application/json", "authorization": f"Bearer {REFERRALS_TOKEN}"}
                answer = referrals(function_url_event("POST", "/", referral.encode(), headers), context)
                assert answer["statusCode"] == 201, answer
            bodies = []
            for i in range(events):
                body = json.dumps(
                    s.event("invoice.paid", s.invoice(amount_paid=1000 + i, customer=f"cus_{i}"))
                ).encode()
                bodies.append(
                    function_url_event(
                        "POST",
                        "/",
                        body,
                        {"content-type": "application/json", "stripe-signature": stripe_signature_header(body, SECRET)},
                    )
                )
            began = time.perf_counter()
            for event in bodies:
                assert stripe_handler(event, context)["statusCode"] == 200
            webhook_seconds = time.perf_counter() - began
            mapping = EventSourceMapping(sqs, resources.queue_url, forwarder, batch_size=10)
            began = time.perf_counter()
            mapping.drain(timeout_seconds=120)
            forward_seconds = time.perf_counter() - began
            forwarded = len(sandbox.state.active_transactions())
            # A figure from a pipeline that lost messages would measure the wrong thing.
            assert forwarded == events, f"{forwarded} of {events} forwarded"
    finally:
        sandbox.shutdown()
    return {
        "webhook_ms_per_event_moto": webhook_seconds / events * 1000,
        "forwarded": forwarded,
        "forwarder_messages_per_s": forwarded / forward_seconds,
    }


def main() -> None:
    results: dict[str, dict[str, float]] = {}
    for name, step in (("cold_start", cold_start), ("hot_path", hot_path), ("pipeline", pipeline)):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        with contextlib.redirect_stdout(io.StringIO()):  # the handlers' own EMF and log lines
            results[name] = step()
    print(f"python {sys.version.split()[0]} on {os.uname().machine}, {os.cpu_count()} cores")
    for group, figures in results.items():
        for name, value in figures.items():
            print(f"{group:<11} {name:<28} {value:10.1f}")


if __name__ == "__main__":
    main()
