"""The controlled competing load of the thread benchmarks: a second process running a 2-thread PyTorch
matmul loop (what a notebook or a second evaluation does), started and stopped by the benchmark.

It runs with PyTorch's own defaults (no evalkit thread policy, OpenMP's default wait policy), as a
notebook would: only its intra-op threads are pinned to ``threads``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

# ends by itself when the benchmark that started it dies (a killed benchmark runs no finally block)
LOOP = """
import os, sys, torch
torch.set_num_threads(int(sys.argv[1]))
parent = os.getppid()
a = torch.randn(512, 512)
print("ready", flush=True)
while os.getppid() == parent:
    a = torch.tanh(a @ a.T / 512.0)
"""


@contextlib.contextmanager
def competing_pytorch(threads: int = 2, python: str = sys.executable) -> Iterator[subprocess.Popen]:
    """Run the matmul loop in a child for the duration of the block (stopped, and waited for, after)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMP_", "MKL_", "OPENBLAS_", "EVALKIT_THREADS", "GOMP_", "KMP_"))}
    proc = subprocess.Popen([python, "-c", LOOP, str(threads)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # torch imported and the loop started
        time.sleep(1.0)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
