"""The package's layers, read from its imports: dependencies point inward.

domain <- providers, ports <- use cases (attribution, forwarding) <- adapters (storage,
affiliate) <- edge <- wiring. A module may import its own layer and any layer inside it;
the domain and the use cases import no AWS or HTTP library.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers/common/affiliate_bridge"

# What each part of the package may import from the package (besides itself).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "domain": {"errors"},
    "providers": {"errors", "domain"},
    "ports": {"errors", "domain", "forwarding.state"},
    "attribution": {"errors", "domain", "ports"},
    "forwarding": {"errors", "domain", "ports"},
    "storage": {"errors", "domain", "ports", "forwarding.state"},
    "recovery": {"errors", "domain", "ports", "providers", "attribution", "forwarding"},
    "affiliate": {"errors", "domain", "ports"},
    "provider_apis": {"errors", "domain", "ports", "providers"},
    "edge": {
        "errors",
        "domain",
        "ports",
        "providers",
        "attribution",
        "forwarding",
        "recovery",
        "storage",
        "affiliate",
        "provider_apis",
    },
    "wiring": {
        "errors",
        "domain",
        "ports",
        "providers",
        "attribution",
        "forwarding",
        "recovery",
        "storage",
        "affiliate",
        "provider_apis",
        "edge",
    },
}
# Outside libraries the inner layers may not touch.
FORBIDDEN_LIBRARIES = {"boto3", "botocore", "requests", "aws_lambda_powertools", "stripe", "urllib3"}
PURE = ("domain", "providers", "ports", "attribution", "forwarding", "recovery")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


def _part(path: Path) -> str:
    relative = path.relative_to(PACKAGE).with_suffix("")
    return relative.parts[0]


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "affiliate_bridge":
                found += [f"affiliate_bridge.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
    return found


def _allowed(part: str, target: str) -> bool:
    inner = target.removeprefix("affiliate_bridge.")
    if inner == "__version__":
        return True  # the package's own version string (a User-Agent names it), no layer
    head = inner.split(".")[0]
    return head == part or head in ALLOWED[part] or any(inner.startswith(a) for a in ALLOWED[part] if "." in a)


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_inward(module: Path) -> None:
    part = _part(module)
    assert part in ALLOWED, f"{part}: a new top-level part needs a place in the layering"
    outward = [
        target for target in _imports(module) if target.startswith("affiliate_bridge.") and not _allowed(part, target)
    ]
    assert not outward, f"{module.relative_to(PACKAGE)} imports outward: {outward}"
    if part in PURE:
        libraries = {target.split(".")[0] for target in _imports(module)} & FORBIDDEN_LIBRARIES
        assert not libraries, f"{module.relative_to(PACKAGE)} imports {libraries}"


def test_the_layering_check_catches_an_outward_import() -> None:
    """The rule above can fail: a use case importing a store is refused."""
    assert not _allowed("attribution", "affiliate_bridge.storage.referrals")
    assert not _allowed("domain", "affiliate_bridge.ports")
    assert _allowed("edge", "affiliate_bridge.storage.keys")
    assert not _allowed("domain", "affiliate_bridge.__init__")


def test_no_provider_named_in_shared_code() -> None:
    """Only the provider packages, the affiliate client, settings and wiring may name a
    provider; everything shared works from the provider's name it is given."""
    shared_parts = ("domain", "ports", "attribution", "forwarding", "recovery", "storage")
    shared = [p for p in _modules() if _part(p) in shared_parts]
    for path in shared:
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        words = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        ]
        words += [node.id for node in ast.walk(tree) if isinstance(node, ast.Name)]
        words += [node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)]
        named = [w for w in words if any(name in w.lower() for name in ("stripe", "paddle", "partnero"))]
        assert not named, f"{path.relative_to(PACKAGE)} names a provider: {named}"
