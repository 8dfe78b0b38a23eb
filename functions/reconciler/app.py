"""ReconcilerFunction (scheduled, off by default): recover what never arrived, report drift.

The ``stripe`` SDK it uses is in this function's own requirements, not in the layer the
webhook functions load.
"""

from typing import Any

from affiliate_bridge.edge.aws_clients import table_and_queue_clients
from affiliate_bridge.edge.observability import logger, metrics, tracer
from affiliate_bridge.edge.settings import Settings
from affiliate_bridge.wiring import build_reconciler_job

settings = Settings.from_env()
dynamodb, sqs = table_and_queue_clients()
job = build_reconciler_job(settings, dynamodb, sqs)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return job.run()
