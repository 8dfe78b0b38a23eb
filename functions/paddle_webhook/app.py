"""PaddleWebhookFunction: Paddle Billing -> verified, attributed message on TransactionsQueue.

A doorway only, like the Stripe one: the shared endpoint differs only in its provider
object (affiliate_bridge.providers.paddle.provider), built in affiliate_bridge.wiring.
"""

from typing import Any

from affiliate_bridge.edge.aws_clients import table_and_queue_clients
from affiliate_bridge.edge.observability import logger, metrics, tracer
from affiliate_bridge.edge.settings import Settings
from affiliate_bridge.wiring import build_webhook_endpoint

settings = Settings.from_env()
dynamodb, sqs = table_and_queue_clients()
endpoint = build_webhook_endpoint("paddle", settings, dynamodb, sqs)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return endpoint.handle(event)
