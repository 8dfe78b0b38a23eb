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
from affiliate_bridge_dev.iam_actions import operation_for
from affiliate_bridge_dev.template_resources import load_template, policy_statements

_DROPPED_KEYS = frozenset({"documentation", "documentationUrl"})


def granted_operations(template: dict[str, Any] | None = None) -> dict[str, set[str]]:
    """``{"dynamodb": {"GetItem", ...}, "sqs": {...}}``: every call of ``SERVICES`` that some
    function's inline policy allows (any other kind of policy is refused: its calls could
    not be trimmed in). ``dynamodb:ConditionCheckItem`` stands for ``TransactWriteItems``
    (``iam_actions``)."""
    found: dict[str, set[str]] = {service: set() for service in SERVICES}
    for statements in policy_statements(template or load_template()).values():
        for statement in statements:
            for action in statement["Action"]:
                service, _, name = str(action).partition(":")
                if service in found:
                    found[service].add(operation_for(name))
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


def full_endpoints() -> dict[str, Any]:
    """The endpoint data (``endpoints.json``) botocore ships."""
    from botocore.loaders import Loader

    data: dict[str, Any] = Loader().load_data("endpoints")
    return data


def trimmed_endpoints(endpoints: Mapping[str, Any], services: Iterable[str]) -> dict[str, Any]:
    """``endpoints`` with every partition as it is (its regions, DNS suffixes and
    defaults) but, of its services, only ``services``: what the legacy endpoint resolver
    of a session that builds no other client reads."""
    wanted = set(services)
    partitions = [
        {**partition, "services": {k: v for k, v in partition["services"].items() if k in wanted}}
        for partition in endpoints["partitions"]
    ]
    return {**endpoints, "partitions": partitions}


def render(model: Mapping[str, Any]) -> str:
    return json.dumps(model, sort_keys=True, separators=(",", ":")) + "\n"


def _provenance() -> str:
    import botocore

    return (
        "Service models used by edge/aws_clients.py.\n"
        f"Derived from botocore {botocore.__version__}'s data (botocore/data/<service>/<version>/\n"
        "service-2.json.gz, https://github.com/boto/botocore, Apache License 2.0), trimmed to the calls\n"
        "template.yaml's function policies grant, documentation strings removed; and its\n"
        "botocore/data/endpoints.json with every partition but only these services.\n"
        "Generated by scripts/trim-aws-models; do not edit by hand.\n"
    )


def expected_files() -> dict[Path, str]:
    """Each trimmed model's path and text (and the folder's provenance note), from the
    installed botocore and the template."""
    operations = granted_operations()
    files: dict[Path, str] = {
        MODELS_DIR / "README.txt": _provenance(),
        MODELS_DIR / "endpoints.json": render(trimmed_endpoints(full_endpoints(), SERVICES)),
    }
    for service in SERVICES:
        version, model = full_model(service)
        files[MODELS_DIR / service / version / "service-2.json"] = render(trimmed(model, operations[service]))
    return files


def present_files() -> set[Path]:
    """Every file in the models folder: botocore searches it first for any data file, so
    anything here that the generator did not write would shadow botocore's own."""
    return {path for path in MODELS_DIR.rglob("*") if path.is_file() and "__pycache__" not in path.parts}


def main() -> None:
    expected = expected_files()  # first: a failure leaves the folder as it was
    for path in present_files() - set(expected):
        path.unlink()
    for path, text in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(path.name + ".tmp")
        staged.write_text(text, encoding="utf-8")
        staged.replace(path)
        print(f"{path.relative_to(REPO_ROOT)}: {len(text):,} bytes")
    for folder in sorted(MODELS_DIR.rglob("*"), reverse=True):  # deepest first
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


if __name__ == "__main__":
    main()
