"""The thread policy: one place that decides how many threads PyTorch, BLAS and tokenizers use, in the
parent and in every child process.

Left alone, each process that imports PyTorch starts as many intra-op threads as the machine has cores,
plus BLAS and tokenizers pools, and OpenMP threads spin while they wait. Two such processes on shared
cores (a run beside a notebook, or the parent's scoring LM beside a child) collapse: issue 25 measured
SmolLM2 decoding at 20.6 tok/s quiet and 1.2 tok/s beside a 2-thread PyTorch job. So:

- threads = the CPUs this process may use: its CPU affinity, capped by a cgroup CPU quota (v2
  ``cpu.max``, v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``), not ``os.cpu_count()``; commands that run
  models (compare, score) also leave out the CPUs other processes keep busy when they start (sampled
  over a quarter second: issue 25's decode loop beside a 2-thread PyTorch job ran faster with one
  thread than with two); ``--threads N`` or ``EVALKIT_THREADS`` override it;
- OpenMP waits passively (``OMP_WAIT_POLICY=PASSIVE``): no spin-waiting where threads may be
  oversubscribed. OpenMP reads it when it loads, so ``configure`` runs before torch is imported
  (``evalkit.cli.main`` calls it first); a value already in the environment is kept;
- NumPy/SciPy's BLAS gets one thread: its calls here are small, and a second thread only waits
  (``benchmarks/bench_threads.py --genre-fit``);
- the choice goes into the environment (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``TOKENIZERS_PARALLELISM=false``), which spawned children inherit, and
  into pools already loaded (torch's ``set_num_threads``, threadpoolctl for BLAS/OpenMP).
"""

from __future__ import annotations

import ctypes
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
import psutil

from evalkit.sampling import parse_samples

ENV = "EVALKIT_THREADS"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Thread counts read when a library loads: OpenMP and MKL (PyTorch's pools) get the policy's threads,
# NumPy/SciPy's BLAS one (BLAS_VARS, ``ThreadPolicy.blas``).
COUNT_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
BLAS_VARS = ("OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


@dataclass(frozen=True)
class ThreadPolicy:
    """What a process runs with; the run's manifest records it."""

    threads: int  # PyTorch intra-op threads, and the OpenMP pool's size
    interop: int  # PyTorch inter-op threads (eager models use none: one is enough)
    available: int  # CPUs this process may use (affinity and cgroup quota)
    source: str  # where ``threads`` came from: "cpus", "--threads" or EVALKIT_THREADS
    omp_wait_policy: str
    tokenizers_parallelism: bool = False
    others_busy: float | None = None  # CPUs other processes kept busy at the start (None: not sampled)
    # NumPy/SciPy's BLAS (OpenBLAS): its calls in evalkit are small (the genre classifier's L-BFGS,
    # the statistics), where a second thread only waits and burns CPU (bench_threads.py --genre-fit)
    blas: int = 1

    def record(self) -> dict[str, Any]:
        return asdict(self)


def cgroup_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup, in CPUs (1.5 = 150 ms per 100 ms), or None when unlimited.

    The tightest limit of the cgroup and its ancestors counts (a limit set on a parent applies); both
    the unified hierarchy (v2 ``cpu.max``) and v1's ``cpu`` controller are read."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    quotas: list[float] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            base, files = root, ("cpu.max",)
        elif "cpu" in controllers.split(","):
            base = next((root / d for d in ("cpu", "cpu,cpuacct", "cpuacct,cpu") if (root / d).is_dir()), root / "cpu")
            files = ("cpu.cfs_quota_us", "cpu.cfs_period_us")
        else:
            continue
        for folder in _with_ancestors(base, path):
            q = _quota(folder, files)
            if q is not None:
                quotas.append(q)
    return min(quotas) if quotas else None


def _with_ancestors(base: Path, path: str) -> list[Path]:
    parts = [p for p in path.split("/") if p and p != ".."]
    return [base.joinpath(*parts[:k]) for k in range(len(parts), -1, -1)]


def _quota(folder: Path, files: tuple[str, ...]) -> float | None:
    try:
        if len(files) == 1:  # v2: "max 100000" or "150000 100000"
            quota, period = (folder / files[0]).read_text().split()[:2]
        else:
            quota, period = ((folder / f).read_text().strip() for f in files)
    except (OSError, ValueError):
        return None
    if quota in ("max", "-1") or not period.isdigit() or int(period) <= 0 or not quota.lstrip("-").isdigit():
        return None
    return int(quota) / int(period) if int(quota) > 0 else None


def affinity_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def available_cpus(affinity: int, quota: float | None) -> int:
    """CPUs this process may use: its affinity, capped by the cgroup quota rounded up (1.5 CPUs of
    quota lets 2 threads run, each part of the time), never fewer than 1."""
    n = affinity if quota is None else min(affinity, math.ceil(quota - 1e-9))
    return max(1, n)


def others_busy(interval: float = 0.25) -> float:
    """How many of this process's CPUs other processes keep busy now: the busy share of each CPU over
    ``interval`` seconds, less this process's own CPU time in that window. Time at a raised nice value
    is not counted: such processes (background jobs started with ``nice``) yield their CPU to ours."""
    me = psutil.Process()
    before = sum(me.cpu_times()[:2])
    start = psutil.cpu_times(percpu=True)
    time.sleep(interval)
    per_cpu = [100.0 * _busy_share(a, b) for a, b in zip(start, psutil.cpu_times(percpu=True))]
    own = (sum(me.cpu_times()[:2]) - before) / interval
    try:
        mine = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        mine = list(range(len(per_cpu)))
    busy = sum(per_cpu[i] for i in mine if i < len(per_cpu)) / 100
    return max(0.0, busy - own)


def _busy_share(before: Any, after: Any) -> float:
    """The share of one CPU's time between two psutil.cpu_times readings spent running processes at
    the default priority or above (user, system, interrupts; not idle, I/O wait, nice or steal)."""
    fields = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    delta = {f: getattr(after, f, 0.0) - getattr(before, f, 0.0) for f in fields}
    total = sum(delta.values())
    busy = delta["user"] + delta["system"] + delta["irq"] + delta["softirq"]
    return max(0.0, min(1.0, busy / total)) if total > 0 else 0.0


def parse_threads(text: str | int, where: str) -> int:
    """A thread count from the command line or the environment: a whole number >= 1 (the rule of a
    sample count), else EvalkitError (exit 2)."""
    return parse_samples(text, where)


def choose(requested: int | None, available: int, source: str = "cpus",
           wait_policy: str | None = None, busy: float | None = None) -> ThreadPolicy:
    """The policy for ``requested`` threads (None: the ``available`` CPUs less those other processes
    keep ``busy``, a CPU counted when 75 % busy). More than available is clamped to ``available`` (the
    caller warns): extra threads on busy cores only slow every one of them."""
    if requested is None:
        threads = max(1, available - int((busy or 0.0) + 0.25))
    else:
        threads = min(requested, available)
    return ThreadPolicy(threads=threads, interop=1, available=available,
                        source=source if requested is not None else "cpus",
                        omp_wait_policy=wait_policy or "PASSIVE",
                        others_busy=None if busy is None else round(busy, 2))


_current: ThreadPolicy | None = None


def configure(requested: str | int | None = None, source: str = "--threads",
              warn: Any = None, watch: bool = False) -> ThreadPolicy:
    """Decide the policy and apply it to this process and (through the environment) to its children.

    ``requested`` None reads ``EVALKIT_THREADS``, else the CPUs available (``watch``: less those other
    processes keep busy now, unless a cgroup quota is what limits them). A bad count raises
    EvalkitError (exit 2); more than available is clamped, with one line through ``warn``."""
    global _current
    if requested is None and os.environ.get(ENV, "").strip():
        requested, source = os.environ[ENV], ENV
    n = None if requested is None else parse_threads(requested, source)
    affinity, quota = affinity_cpus(), cgroup_cpus()
    available = available_cpus(affinity, quota)
    # under a quota the host's other processes are not ours to share with: the quota is the share
    busy = others_busy() if watch and n is None and (quota is None or quota >= affinity) else None
    policy = choose(n, available, source, os.environ.get("OMP_WAIT_POLICY"), busy)
    if n is not None and n > available and warn is not None:
        warn(f"warning: {source} {n}: this process may use {available} CPU(s); using {available} threads")
    apply(policy)
    _current = policy
    return policy


def current() -> ThreadPolicy:
    """The policy in force (configured from the environment on first use, e.g. by library callers)."""
    return _current if _current is not None else configure()


def adopt(policy: ThreadPolicy) -> None:
    """A child process takes its parent's policy (isolation passes it with the child's arguments)."""
    global _current
    apply(policy)
    _current = policy


def apply(policy: ThreadPolicy) -> None:
    """Set the environment (read by libraries not loaded yet and inherited by children) and the pools
    already loaded."""
    for var in COUNT_VARS:
        os.environ[var] = str(policy.threads)
    for var in BLAS_VARS:
        os.environ[var] = str(policy.blas)
    os.environ["OMP_WAIT_POLICY"] = policy.omp_wait_policy
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if policy.tokenizers_parallelism else "false"
    torch = sys.modules.get("torch")
    if torch is not None:
        apply_torch(policy)
    if "numpy" in sys.modules or torch is not None:  # a BLAS or OpenMP pool may already be loaded
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=policy.threads, user_api="openmp")
        threadpool_limits(limits=policy.blas, user_api="blas")


def apply_torch(policy: ThreadPolicy) -> None:
    """PyTorch's pools: intra-op any time; inter-op only before its first parallel work (else kept)."""
    import torch

    torch.set_num_threads(policy.threads)
    if torch.get_num_interop_threads() != policy.interop:
        try:
            torch.set_num_interop_threads(policy.interop)
        except RuntimeError:  # already started: PyTorch allows setting it once, before use
            pass


def threads_option(watch: bool = True) -> Any:
    """``--threads N``: applied while the command line is parsed, before the command imports torch.
    ``watch`` (commands that run models): without the option, leave out the CPUs other processes keep
    busy now, unless ``evalkit --threads N`` or EVALKIT_THREADS chose already."""
    def on_value(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        warn = lambda line: click.echo(line, err=True)  # noqa: E731
        if value is not None:
            configure(value, "--threads", warn=warn)
        elif watch and not ctx.resilient_parsing and (_current is None or _current.source == "cpus"):
            configure(warn=warn, watch=True)
        return value
    return click.option("--threads", metavar="N", callback=on_value, expose_value=False, is_eager=True,
                        help="Threads for PyTorch, BLAS and tokenizers, here and in each model's process "
                             "(default: EVALKIT_THREADS, else the CPUs this process may use that other "
                             "processes do not keep busy).")


def die_with_parent() -> None:
    """Linux: this child (a model's generation or capacity process) is killed when the parent dies (kill -9
    included), so no orphan keeps the CPUs busy or holds the parent's pipes open. What it wrote before
    stays: a rerun resumes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the call
        os._exit(1)
