"""Cold start as deployed: the Stripe webhook loaded from what `make build` staged.

Lambda runs the function from the built layer and function directories, read-only, with
python3.13: bytecode missing there is compiled at every cold start. This loads the staged
function twice per pair, once with the bytecode ``scripts/compile-build`` wrote and once
with it stripped (as ``sam build`` alone leaves it), so the ratio is measured in the same
run. Skipped, with the reason, when there is no build or no python3.13.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

PAIRS = 5
BUILD = Path(".aws-sam/build")
LOAD = """
import os, sys, time
began = time.perf_counter()
sys.path[:0] = [os.environ["FUNCTION_DIR"], os.environ["LAYER_DIR"]]
import app
print(time.perf_counter() - began)
"""
ENV = {
    "PATH": "/usr/bin:/bin",
    "PYTHONDONTWRITEBYTECODE": "1",  # /opt and /var/task are read-only on Lambda
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "TABLE_NAME": "t",
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q.fifo",
}


def _python313() -> str | None:
    found = subprocess.run(["scripts/find-python", "3.13"], capture_output=True, text=True, check=False)
    return str(Path(found.stdout.strip()) / "python3.13") if found.returncode == 0 else None


def _stage(root: Path, keep_bytecode: bool) -> tuple[Path, Path]:
    function, layer = root / "function", root / "layer"
    shutil.copytree(BUILD / "StripeWebhookFunction", function)
    shutil.copytree(BUILD / "CommonLayer" / "python", layer)
    if not keep_bytecode:
        for cache in list(root.rglob("__pycache__")):
            shutil.rmtree(cache)
    return function, layer


def _load(python: str, function: Path, layer: Path) -> float:
    env = {**ENV, "FUNCTION_DIR": str(function), "LAYER_DIR": str(layer)}
    out = subprocess.run([python, "-S", "-c", LOAD], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def deployed_cold_start() -> dict[str, float] | str:
    """Milliseconds to load the staged handler with and without bytecode, or why not measured."""
    python = _python313()
    if python is None:
        return "no python3.13 (pyenv install 3.13)"
    if not any((BUILD / "CommonLayer").rglob("*.cpython-313.pyc")):
        return "no compiled build: run `make build` first"
    with tempfile.TemporaryDirectory() as tmp:
        compiled = _stage(Path(tmp) / "compiled", keep_bytecode=True)
        source = _stage(Path(tmp) / "source", keep_bytecode=False)
        pairs = [(_load(python, *compiled), _load(python, *source)) for _ in range(PAIRS)]
    return {
        "compiled_ms": statistics.median(p[0] for p in pairs) * 1000,
        "source_ms": statistics.median(p[1] for p in pairs) * 1000,
        "ratio": statistics.median(p[0] / p[1] for p in pairs),
    }
