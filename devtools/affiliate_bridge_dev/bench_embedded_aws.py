"""``make bench``, the embedded AWS part: the CPU moto's server spends per request.

The local stack's burst is bound by the one moto process every function calls, so its
cost per request is the figure that moves the burst. The server runs in a process of
its own, as in ``make run``, once as moto ships it (``ThreadedMotoServer``) and once as
the stack runs it (``moto_speedups`` and ``moto_http``); the same client makes the same
calls, through the bridge's own storage classes: ``GetItem`` of a referral-sized item
and the ledger's upsert (``Ledger.record_event``, 14 ``SET`` actions). The server
reports its own CPU time (``time.process_time``) before and after each series.
"""

from __future__ import annotations

import multiprocessing
import socket
from multiprocessing.connection import Connection
from typing import Any

CALLS = 300


def _serve(conn: Connection, port: int, patched: bool) -> None:
    import logging
    import time

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if patched:
        from affiliate_bridge_dev import moto_http, moto_speedups

        moto_speedups.apply()
        server: Any = moto_http.serve(port)
    else:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
    conn.send("ready")
    while conn.recv() == "cpu":
        conn.send(time.process_time())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _series(patched: bool) -> dict[str, float]:
    import boto3

    from affiliate_bridge.storage.ledger import Ledger
    from affiliate_bridge_dev.template_resources import create_resources

    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    port = _free_port()
    process = context.Process(target=_serve, args=(child, port, patched), daemon=True)
    process.start()
    try:
        if not conn.poll(60) or conn.recv() != "ready":
            raise RuntimeError("the embedded AWS did not start")
        options: dict[str, Any] = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region_name": "us-east-1",
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
        }
        dynamodb, sqs = boto3.client("dynamodb", **options), boto3.client("sqs", **options)
        table = create_resources(dynamodb, sqs, prefix="bench-embedded-aws").table_name
        ledger = Ledger(dynamodb, table)
        for n in range(50):
            dynamodb.put_item(
                TableName=table,
                Item={
                    "pk": {"S": f"CUSTOMER#cus_{n}"},
                    "sk": {"S": "REFERRAL"},
                    "partner_key": {"S": "partner-1"},
                    "customer_key": {"S": f"customer-{n}"},
                    "created_at": {"N": "1796300000"},
                    "source": {"S": "referrals-api"},
                },
            )

        def cpu() -> float:
            conn.send("cpu")
            seconds: float = conn.recv()
            return seconds

        began = cpu()
        for n in range(CALLS):
            dynamodb.get_item(TableName=table, Key={"pk": {"S": f"CUSTOMER#cus_{n % 50}"}, "sk": {"S": "REFERRAL"}})
        read = cpu()
        for n in range(CALLS):
            ledger.record_event(
                "stripe",
                f"evt_bench_{n % 100}",
                "invoice.paid",
                "forwarded",
                transaction_key=f"stripe:in_{n}",
                message_id=f"m-{n}",
                reason="referred by customer id",
                attribution_rule="stripe_customer_id",
                attribution_trail=["stripe_customer_id"],
                partner_key="partner-1",
                customer_key=f"customer-{n}",
                payment_kind="sale",
                amount_minor=1000 + n,
                currency="usd",
            )
        written = cpu()
        conn.send("stop")
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
    return {"get_item_ms": (read - began) / CALLS * 1000, "ledger_update_ms": (written - read) / CALLS * 1000}


def server_cpu_per_request() -> dict[str, float]:
    before, after = _series(patched=False), _series(patched=True)
    return {
        "before_get_item_ms": before["get_item_ms"],
        "after_get_item_ms": after["get_item_ms"],
        "before_update_ms": before["ledger_update_ms"],
        "after_update_ms": after["ledger_update_ms"],
        "get_item_ratio": after["get_item_ms"] / before["get_item_ms"],
        "update_ratio": after["ledger_update_ms"] / before["ledger_update_ms"],
    }


if __name__ == "__main__":
    print(server_cpu_per_request())
