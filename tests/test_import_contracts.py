"""The layers (issue 21): `lint-imports` keeps the [tool.importlinter] contracts of pyproject.toml, and an
upward import, a rating that reaches the scoring stage, or an import cycle breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    if not LINT.exists():
        pytest.skip("import-linter is not installed (the test extra installs it)")
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_package_keeps_its_import_contracts() -> None:
    res = lint(REPO)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in res.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("records/io.py", "def _up():\n    from evalkit.pipeline import RunContext  # noqa\n",
     "Stages only import downwards"),
    ("rating/stars.py", "def _scores():\n    from evalkit.scoring import load_scorers  # noqa\n",
     "Rating reads numbers only"),
    ("report/format.py", "from evalkit.report.html import render_html  # noqa\n",
     "No import cycles"),
])
def test_an_upward_import_or_a_cycle_breaks_the_build(tmp_path: Path, module: str, line: str, broken: str) -> None:
    shutil.copytree(REPO / "evalkit", tmp_path / "evalkit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with open(tmp_path / "evalkit" / module, "a", encoding="utf-8") as f:
        f.write("\n\n" + line)
    res = lint(tmp_path)
    assert res.returncode == 1, res.stdout[-3000:]
    assert f"{broken}" in res.stdout.split("Broken contracts", 1)[1].replace("\n", " ")
