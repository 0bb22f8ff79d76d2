"""Wall time of the offline demo, model loads included, then of its rerun from the cache.

    .venv/bin/python benchmarks/bench_demo.py [--results-dir /tmp/demo-bench]

Goals (issue 2): the demo <= 4 min on 2 cores; the rerun from cache <= 20 s. Uses a fresh results
folder so the first run generates everything (the GGUF -> transformers conversion cache under
~/.cache/evalkit is kept; delete it to time a first-ever run).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results-dir", default="/tmp/evalkit-demo-bench")
    ap.add_argument("models", nargs="*", default=["gemma3-270m", "smollm2-135m"])
    a = ap.parse_args()
    shutil.rmtree(a.results_dir, ignore_errors=True)
    cmd = [sys.executable, "-m", "evalkit.cli", "compare", *a.models, "--results-dir", a.results_dir]
    for label in ("first run", "rerun from cache"):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        print(f"{label}: {time.perf_counter() - t:.1f} s")
    print("run folders:", ", ".join(sorted(p.name for p in Path(a.results_dir).iterdir() if p.name[0].isdigit())))


if __name__ == "__main__":
    main()
