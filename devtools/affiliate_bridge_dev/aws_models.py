"""The functions' DynamoDB and SQS service models, trimmed to the calls the template grants.

Creating a boto3 client parses the service's whole model: DynamoDB's is about 1 MB of
JSON for 57 operations, of which the functions call six. The trimmed copies
(``layers/common/affiliate_bridge/aws_models``, read by ``edge.aws_clients``) keep exactly
the operations any function's IAM policy in ``template.yaml`` grants, every shape those
reach, and nothing else; documentation strings are dropped, as botocore only uses them
for docstrings. They are cut from the botocore the layer pins, so a client built on them
serialises and parses each kept call byte for byte as the full model does
(``tests/unit/devtools/test_aws_models.py`` checks both, and that the files are current).

Regenerate with ``scripts/trim-aws-models`` after granting a new call or moving botocore.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from affiliate_bridge.edge.aws_clients import MODELS_DIR, SERVICES
from affiliate_bridge_dev.handlers import REPO_ROOT
from affiliate_bridge_dev.template_resources import load_template

_DROPPED_KEYS = frozenset({"documentation", "documentationUrl"})


def granted_operations(template: Mapping[str, Any] | None = None) -> dict[str, set[str]]:
    """``{"dynamodb": {"GetItem", ...}, "sqs": {...}}``: every call of ``SERVICES`` that some
    function's inline policy allows."""
    template = template or load_template()
    found: dict[str, set[str]] = {service: set() for service in SERVICES}
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies", []):
            if not isinstance(policy, dict) or set(policy) != {"Statement"}:
                raise ValueError(f"not an inline policy, so its calls cannot be trimmed in: {policy!r}")
            for statement in policy["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                for action in actions:
                    service, _, operation = str(action).partition(":")
                    if service in found:
                        found[service].add(operation)
    return found


def _without_docs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_docs(v) for k, v in node.items() if k not in _DROPPED_KEYS}
    if isinstance(node, list):
        return [_without_docs(v) for v in node]
    return node


def _reachable_shapes(shapes: Mapping[str, Any], roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        shape = shapes[name]
        pending.extend(shape[part]["shape"] for part in ("member", "key", "value") if part in shape)
        pending.extend(member["shape"] for member in shape.get("members", {}).values())
    return seen


def full_model(service: str) -> tuple[str, dict[str, Any]]:
    """The API version and the model botocore ships for ``service``."""
    from botocore.loaders import Loader

    loader = Loader()
    version = loader.determine_latest_version(service, "service-2")
    model: dict[str, Any] = loader.load_service_model(service, "service-2", version)
    return version, model


def trimmed(model: Mapping[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    """``model`` with only ``operations`` and the shapes they reach, without documentation."""
    wanted = set(operations)
    missing = wanted - set(model["operations"])
    if missing:
        raise ValueError(f"the template grants calls the model does not have: {sorted(missing)}")
    kept = {name: op for name, op in model["operations"].items() if name in wanted}
    roots = [op[part]["shape"] for op in kept.values() for part in ("input", "output") if part in op]
    roots += [error["shape"] for op in kept.values() for error in op.get("errors", [])]
    shapes = _reachable_shapes(model["shapes"], roots)
    cut = {**model, "operations": kept, "shapes": {k: v for k, v in model["shapes"].items() if k in shapes}}
    return dict(_without_docs(cut))


def render(model: Mapping[str, Any]) -> str:
    return json.dumps(model, sort_keys=True, separators=(",", ":")) + "\n"


def expected_files() -> dict[Path, str]:
    """Each trimmed model's path and text, from the installed botocore and the template."""
    operations = granted_operations()
    files: dict[Path, str] = {}
    for service in SERVICES:
        version, model = full_model(service)
        files[MODELS_DIR / service / version / "service-2.json"] = render(trimmed(model, operations[service]))
    return files


def main() -> None:
    for path in MODELS_DIR.glob("*/*/service-2.json"):
        path.unlink()
    for path, text in expected_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(REPO_ROOT)}: {len(text):,} bytes")


if __name__ == "__main__":
    main()
