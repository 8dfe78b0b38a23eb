"""The README's configuration table and layout say what the code and template do."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from affiliate_bridge_dev.local_config import DEFAULTS
from affiliate_bridge_dev.template_resources import load_template

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
TEMPLATE = load_template()
LAYER = REPO / "layers/common/affiliate_bridge"
DEVTOOLS = REPO / "devtools/affiliate_bridge_dev"


def _section(title: str) -> str:
    start = README.index(title)
    following = re.search(r"\n##+ ", README[start + len(title) :])
    return README[start : start + len(title) + following.start()] if following else README[start:]


def _configuration_rows() -> dict[str, list[str]]:
    rows = {}
    for line in _section("### Configuration").splitlines():
        match = re.match(r"\| `([A-Z_]+)`", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in line.strip("|").split(" | ")]
    return rows


def _template_refs() -> dict[str, str]:
    """Environment variable -> the parameter or resource it is set from, over all functions."""
    refs: dict[str, str] = {}
    environments = [TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]]
    for resource in TEMPLATE["Resources"].values():
        environments.append(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    for variables in environments:
        for name, value in variables.items():
            if isinstance(value, dict) and "Ref" in value:
                refs[name] = value["Ref"]
    return refs


def _layer_source() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in LAYER.rglob("*.py"))


ROWS = _configuration_rows()


@pytest.mark.parametrize("variable", sorted(ROWS))
def test_each_variables_template_parameter_is_what_the_template_sets(variable: str) -> None:
    parameter_cell = ROWS[variable][2]
    refs = _template_refs()
    named = re.findall(r"`([A-Za-z]+)`", parameter_cell)
    if parameter_cell == "local only":
        assert variable in DEFAULTS and variable not in refs
    elif parameter_cell == "none":
        assert variable not in refs and f"{variable}_ARN" not in refs
        assert f'"{variable}"' in _layer_source(), f"{variable} is read by no code"
    elif parameter_cell.startswith("— (secret"):
        assert refs[f"{variable}_ARN"] == named[0]
    elif variable == "POWERTOOLS_TRACE_DISABLED":
        assert named[0] in TEMPLATE["Parameters"]
    else:
        assert refs[variable] == named[0], f"{variable} is set from {refs.get(variable)}, README says {named[0]}"
        assert named[0] in TEMPLATE["Parameters"]


def test_every_template_parameter_is_in_the_readme() -> None:
    documented = _section("### Configuration")
    missing = [name for name in TEMPLATE["Parameters"] if f"`{name}`" not in documented]
    assert missing == []


def test_local_defaults_are_the_ones_documented() -> None:
    assert "local: 5 / 60" in " ".join(ROWS["RETRY_BASE_SECONDS"])
    assert (DEFAULTS["RETRY_BASE_SECONDS"], DEFAULTS["RETRY_MAX_SECONDS"]) == ("5", "60")
    for variable in ("STRIPE_WEBHOOK_SECRET", "PADDLE_WEBHOOK_SECRET", "REFERRALS_API_TOKEN", "BRIDGE_PORT"):
        assert DEFAULTS[variable] in ROWS[variable][1], variable


def _modules(root: Path) -> list[Any]:
    return sorted(p.relative_to(root) for p in root.rglob("*.py") if p.name != "__init__.py")


def test_the_layout_names_every_module() -> None:
    layout = _section("### Layout")
    missing = [str(m) for m in _modules(LAYER) + _modules(DEVTOOLS) if m.stem not in layout]
    assert missing == [], "README layout does not mention: " + ", ".join(missing)
