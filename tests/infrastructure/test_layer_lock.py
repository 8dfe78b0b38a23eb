"""What `sam build` puts in the layer is what the tests ran: every package of the tree
pinned, at the version installed in the test environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from affiliate_bridge_dev.layer_lock import closure, read_lock, render, top_level


def test_the_layer_lock_pins_the_whole_tree_at_the_tested_versions() -> None:
    expected = closure(top_level())
    assert read_lock() == expected, "layers/common/requirements.txt drifted: run scripts/lock-layer"


def test_the_tree_includes_transitive_dependencies() -> None:
    pins = closure(top_level())
    # Named by nobody at the top, pulled in by boto3 and requests: pip would pick any version.
    assert {"botocore", "urllib3", "s3transfer", "jmespath", "certifi"} <= set(pins)


def test_a_loose_or_missing_pin_is_refused(tmp_path: Path) -> None:
    loose = tmp_path / "requirements.txt"
    loose.write_text("boto3>=1.0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not an exact pin"):
        read_lock(loose)
    partial = tmp_path / "partial.txt"
    requirements = [Requirement("requests")]
    pins = closure(requirements)
    partial.write_text(render({"requests": pins["requests"]}, requirements), encoding="utf-8")
    assert read_lock(partial) != pins
