"""Issue 25, item 3: the command's exit does not wait on the interpreter's garbage collections."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# A reference cycle whose finaliser prints: the interpreter's teardown collection would find it (gc is
# disabled, so only that collection could). After `evalkit` ran, nothing is collected at exit.
PROGRAM = """
import gc, sys
{setup}
class Cycle:
    def __del__(self):
        print("collected at exit", flush=True)
gc.disable()
c = Cycle(); c.me = c; del c
"""


@pytest.mark.parametrize("setup, collected", [
    ("", True),  # the control: plain Python collects the cycle at exit
    ("from evalkit.cli import main\nmain(['runs', sys.argv[1]])", False),
])
def test_teardown_collects_nothing_after_evalkit_ran(setup, collected, tmp_path):
    r = subprocess.run([sys.executable, "-c", PROGRAM.format(setup=setup), str(tmp_path)], capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 0, r.stderr
    assert ("collected at exit" in r.stdout) is collected
