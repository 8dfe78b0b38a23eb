"""Load the Lambda handlers from ``functions/<name>/app.py`` as Lambda would.

Each function's module is called ``app``; they are loaded under distinct names so the
local stack and tests can hold all of them at once. Loading runs the module's top level
(settings, clients) exactly like a cold start, so set the environment first.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _module_name(name: str) -> str:
    return f"affiliate_bridge_function_{name}"


def loaded_function_module(name: str) -> ModuleType | None:
    """The function's module if this process (or the one it was forked from) loaded it."""
    return sys.modules.get(_module_name(name))


def load_function_module(name: str) -> ModuleType:
    path = FUNCTIONS_DIR / name / "app.py"
    module_name = _module_name(name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no handler at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]  # as importlib does: no half-loaded module stays behind
        raise
    return module


def load_handler(name: str) -> Handler:
    handler: Handler = load_function_module(name).lambda_handler
    return handler
