"""`make build`'s last step: the staged tree imports from bytecode, never from source.

Proven by changing a module's source after compiling: an import that still answers what
was compiled read the bytecode (``unchecked-hash``), as a read-only Lambda filesystem
needs; one that compiled the source would answer the change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compile-build"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_the_staged_tree_is_imported_from_its_bytecode(tmp_path: Path) -> None:
    layer = tmp_path / "build" / "CommonLayer" / "python" / "pkg"
    layer.mkdir(parents=True)
    (layer / "__init__.py").write_text("")
    (layer / "answer.py").write_text("VALUE = 'compiled'\n")
    done = _run(str(SCRIPT), str(tmp_path / "build"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"2 modules compiled for {sys.implementation.cache_tag}" in done.stdout
    (layer / "answer.py").write_text("VALUE = 'source, compiled at import'\n")
    imported = _run("-c", "import pkg.answer; print(pkg.answer.VALUE)", cwd=layer.parent)
    assert imported.stdout.strip() == "compiled", imported.stderr


def test_a_file_that_does_not_compile_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "broken.py").write_text("def (:\n")
    done = _run(str(SCRIPT), str(tmp_path / "build"), cwd=tmp_path)
    assert done.returncode != 0 and "did not compile" in done.stderr


def test_without_a_build_it_says_what_to_run(tmp_path: Path) -> None:
    done = _run(str(SCRIPT), str(tmp_path / "nothing"), cwd=tmp_path)
    assert done.returncode != 0 and "run sam build first" in done.stderr
