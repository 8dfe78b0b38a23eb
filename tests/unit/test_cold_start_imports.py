"""What a webhook function loads at cold start: nothing the forwarder alone needs.

Measured in ``make bench`` (import time); checked here as a fact that can regress
silently when one wiring module builds every function: the webhook functions must not
import the HTTP client of the affiliate API, the SQS batch utilities or the stripe SDK.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEPT_OFF = (
    "requests",
    "stripe",
    "affiliate_bridge.edge.forwarder_batch",
    "affiliate_bridge.affiliate.partnero",
    "affiliate_bridge.ports",  # types only (each class costs about a millisecond to build)
)


@pytest.mark.parametrize("function", ["stripe_webhook", "paddle_webhook"])
def test_webhook_functions_do_not_load_what_only_the_forwarder_needs(function: str) -> None:
    script = (
        "import json, sys, runpy;"
        f"runpy.run_path({str(ROOT / 'functions' / function / 'app.py')!r});"
        "print(json.dumps(sorted(sys.modules)))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers/common'}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": "t",
        "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q.fifo",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    )
    assert not [name for name in KEPT_OFF if name in loaded]
    # Nor the other provider's reader: each function loads its own provider only.
    other = "paddle" if function == "stripe_webhook" else "stripe"
    assert f"affiliate_bridge.providers.{other}.provider" not in loaded
    assert f"affiliate_bridge.providers.{other}.events" not in loaded
    assert "affiliate_bridge.edge.webhook_endpoint" in loaded  # the check saw a real cold start
