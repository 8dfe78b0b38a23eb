"""The as-deployed cold start says why it was not measured rather than measuring nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from affiliate_bridge_dev import bench_deployed


def test_without_a_compiled_build_it_says_to_run_make_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_deployed, "BUILD", tmp_path / "build")
    monkeypatch.setattr(bench_deployed, "_python313", lambda: "/usr/bin/python3.13")
    assert bench_deployed.deployed_cold_start() == "no compiled build: run `make build` first"


def test_without_python313_it_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_deployed, "_python313", lambda: None)
    assert bench_deployed.deployed_cold_start() == "no python3.13 (pyenv install 3.13)"
