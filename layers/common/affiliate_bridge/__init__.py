"""affiliate-bridge: Stripe and Paddle Billing payments to attributed affiliate commissions.

This package is deployed as a Lambda layer and imported by every function. It holds the
domain (payments, reversals, money, attribution) and the adapters (DynamoDB, SQS, the
affiliate API); the functions under ``functions/`` only translate the Lambda edge.
"""

__version__ = "0.1.0"
