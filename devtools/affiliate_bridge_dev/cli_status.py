"""``status``: one screen of health, from the metrics and the queues.

Figures for the last hour and day: events received, payments attributed, transactions
forwarded, events rejected (malformed or badly signed); then the queue, the dead
letters, the oldest waiting message, the last successful forward and the last
reconcile. A deployed stack's figures come from CloudWatch (the dashboard shows the same
metrics); the local stack's from the EMF lines its handlers write to
``.local-stack/bridge.log``, which is what CloudWatch would have received.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from affiliate_bridge.edge import observability as obs
from affiliate_bridge_dev.cli_output import table
from affiliate_bridge_dev.targets import Target

HOUR, DAY = 3600, 86_400
# Each figure and the metrics it adds up.
FIGURES = {
    "received": (obs.RECEIVED,),
    "attributed": (obs.ATTRIBUTED,),
    "forwarded": (obs.FORWARDED, obs.REVERSED),
    "rejected": (obs.REJECTED, obs.SIGNATURE_FAILURES),
}


def emf_points(lines: Iterable[str]) -> Iterable[tuple[float, str, float]]:
    """(unix seconds, metric name, value) from CloudWatch embedded-metric-format lines."""
    for line in lines:
        if '"_aws"' not in line:
            continue
        try:
            blob = json.loads(line)
            meta = blob["_aws"]
            at = float(meta["Timestamp"]) / 1000
            names = [m["Name"] for directive in meta["CloudWatchMetrics"] for m in directive["Metrics"]]
        except (ValueError, KeyError, TypeError):
            continue
        for name in names:
            values = blob.get(name)
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, int | float):
                    yield at, name, float(value)


def local_figures(log_path: Path, now: float) -> tuple[dict[str, dict[str, float]], float | None]:
    sums = {figure: {"hour": 0.0, "day": 0.0} for figure in FIGURES}
    last_forward: float | None = None
    if log_path.is_file():
        with log_path.open(encoding="utf-8", errors="replace") as lines:
            for at, name, value in emf_points(lines):
                for figure, names in FIGURES.items():
                    if name in names and now - at <= DAY:
                        sums[figure]["day"] += value
                        sums[figure]["hour"] += value if now - at <= HOUR else 0
                if name in FIGURES["forwarded"] and value > 0:
                    last_forward = max(last_forward or 0.0, at)
    return sums, last_forward


def cloud_figures(target: Target, now: float) -> tuple[dict[str, dict[str, float]], float | None]:
    cloudwatch = target.client("cloudwatch")
    queries = []
    for index, (figure, names) in enumerate(FIGURES.items()):
        search = " OR ".join(f'MetricName="{name}"' for name in names)
        queries.append(
            {
                "Id": f"f{index}",
                "Expression": f"SUM(SEARCH('{{{obs.NAMESPACE}}} ({search})', 'Sum', 300))",
                "Label": figure,
            }
        )
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=queries,
        StartTime=datetime.fromtimestamp(now - DAY, UTC),
        EndTime=datetime.fromtimestamp(now, UTC),
    )
    sums = {figure: {"hour": 0.0, "day": 0.0} for figure in FIGURES}
    last_forward: float | None = None
    for result in answer.get("MetricDataResults", []):
        figure = result.get("Label")
        for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
            at = stamp.timestamp()
            sums[figure]["day"] += value
            sums[figure]["hour"] += value if now - at <= HOUR else 0
            if figure == "forwarded" and value > 0:
                last_forward = max(last_forward or 0.0, at)
    return sums, last_forward


def _oldest_age(target: Target, now: float) -> str:
    if target.is_local:
        return "- (CloudWatch's ApproximateAgeOfOldestMessage; not measured locally)"
    queue_name = target.queue_url.rstrip("/").rsplit("/", 1)[-1]
    answer = target.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": queue_name}],
        StartTime=datetime.fromtimestamp(now - 900, UTC),
        EndTime=datetime.fromtimestamp(now, UTC),
        Period=300,
        Statistics=["Maximum"],
    )
    points = sorted(answer.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return f"{int(points[-1]['Maximum'])} s" if points else "- (no data in the last 15 minutes)"


def _when(at: float | None, now: float) -> str:
    if not at:
        return "never (in the last day)"
    minutes = int((now - at) // 60)
    return f"{datetime.fromtimestamp(at, UTC):%Y-%m-%d %H:%M UTC} ({minutes} min ago)"


def _queue(target: Target) -> tuple[int, int, int]:
    sqs = target.client("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    queued = sqs.get_queue_attributes(QueueUrl=target.queue_url, AttributeNames=names)["Attributes"]
    dead = sqs.get_queue_attributes(QueueUrl=target.dead_letter_queue_url, AttributeNames=names)["Attributes"]
    return (
        int(queued.get(names[0], 0)),
        int(queued.get(names[1], 0)),
        int(dead.get(names[0], 0)) + int(dead.get(names[1], 0)),
    )


def run_status(args: argparse.Namespace, target: Target) -> int:
    from affiliate_bridge.storage.reconcile_log import ReconcileLog

    now = time.time()
    if target.is_local:
        sums, last_forward = local_figures((target.state_dir or Path(".local-stack")) / "bridge.log", now)
    else:
        sums, last_forward = cloud_figures(target, now)
    print(f"affiliate-bridge status: {target.name}, {datetime.fromtimestamp(now, UTC):%Y-%m-%d %H:%M UTC}")
    rows = [{"": figure, "last_hour": int(v["hour"]), "last_day": int(v["day"])} for figure, v in sums.items()]
    table(rows, ["", "last_hour", "last_day"])
    waiting, in_flight, dead = _queue(target)
    last = ReconcileLog(target.client("dynamodb"), target.table_name).last()
    reconcile = (
        f"{_when(float(last['at']), now)}: {last['drift']} drift(s) in {last['compared']} payment(s),"
        f" {last['fixed']} sent to be fixed ({last['source']})"
        if last
        else "never"
    )
    print(f"queue:                   {waiting} waiting, {in_flight} being forwarded")
    print(f"oldest message:          {_oldest_age(target, now)}")
    print(f"dead letters:            {dead}{'  (affiliate-bridge dlq list)' if dead else ''}")
    print(f"last successful forward: {_when(last_forward, now)}")
    print(f"last reconcile:          {reconcile}")
    return 1 if dead else 0


def add_status_parser(commands: Any, resolve_target: Callable[[argparse.Namespace], Target]) -> None:
    parser = commands.add_parser(
        "status",
        help="health on one screen: events, forwards, rejections, queues, dead letters, last reconcile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def run(args: argparse.Namespace) -> int:
        return run_status(args, resolve_target(args))

    parser.set_defaults(func=run)
