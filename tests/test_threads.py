"""Issue 25: the thread policy (evalkit.threads) from given affinity and cgroup quotas, and the
--threads / EVALKIT_THREADS bad-input cases of the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.threads import available_cpus, cgroup_cpus, choose, parse_threads

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("affinity, quota, expected", [
    (8, None, 8),  # no quota: the affinity
    (8, 2.0, 2),  # a 2-CPU quota on an 8-core machine
    (8, 1.5, 2),  # 150 ms per 100 ms lets two threads run
    (8, 0.5, 1),  # never fewer than one
    (2, 4.0, 2),  # a quota above the affinity: the affinity
    (1, None, 1),
])
def test_available_cpus_is_the_affinity_capped_by_the_quota(affinity, quota, expected):
    assert available_cpus(affinity, quota) == expected


def _cgroup(tmp_path: Path, proc: str, files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "sys_fs_cgroup"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (tmp_path / "cgroup").write_text(proc)
    return root, tmp_path / "cgroup"


def test_cgroup_v2_quota_and_the_tightest_ancestor(tmp_path):
    root, proc = _cgroup(tmp_path, "0::/ci/job7\n", {
        "cpu.max": "max 100000\n",
        "ci/cpu.max": "300000 100000\n",  # the parent's limit applies to the child
        "ci/job7/cpu.max": "max 100000\n",
    })
    assert cgroup_cpus(root, proc) == 3.0
    (root / "ci/job7/cpu.max").write_text("150000 100000\n")
    assert cgroup_cpus(root, proc) == 1.5
    root, proc = _cgroup(tmp_path / "free", "0::/\n", {"cpu.max": "max 100000\n"})
    assert cgroup_cpus(root, proc) is None


def test_cgroup_v1_quota(tmp_path):
    root, proc = _cgroup(tmp_path, "4:memory:/x\n2:cpu,cpuacct:/docker/abc\n", {
        "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "200000\n",
        "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
    })
    assert cgroup_cpus(root, proc) == 2.0
    (root / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpus(root, proc) is None
    assert cgroup_cpus(tmp_path / "none", tmp_path / "missing") is None


def test_choose_defaults_to_the_cpus_and_clamps_a_larger_request():
    p = choose(None, 4)
    assert (p.threads, p.interop, p.source, p.omp_wait_policy, p.tokenizers_parallelism) == (4, 1, "cpus", "PASSIVE", False)
    assert choose(1, 4, "--threads").threads == 1
    assert choose(16, 4, "--threads").threads == 4
    assert choose(2, 4, "EVALKIT_THREADS", "ACTIVE").omp_wait_policy == "ACTIVE"  # the user's own setting is kept


@pytest.mark.parametrize("text", ["0", "-3", "two", "1.5", ""])
def test_parse_threads_refuses_what_is_not_a_positive_count(text):
    with pytest.raises(EvalkitError):
        parse_threads(text, "--threads")
    assert parse_threads(" 3 ", "--threads") == 3


def _evalkit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k != "EVALKIT_THREADS"}
    e.update(PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], capture_output=True, text=True, env=e,
                          timeout=120)


@pytest.mark.parametrize("args, env, words", [
    (["compare", "--threads", "0", "a", "b"], None, "--threads must be a whole number >= 1, not 0"),
    (["--threads", "-2", "runs"], None, "--threads must be a whole number >= 1, not -2"),
    (["score", "--threads", "many", "x.jsonl"], None, "--threads must be a whole number >= 1, not 'many'"),
    (["runs"], {"EVALKIT_THREADS": "0"}, "EVALKIT_THREADS must be a whole number >= 1, not 0"),
])
def test_bad_thread_counts_exit_2_with_one_line(args, env, words, tmp_path):
    r = _evalkit(*args, env=env)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.stderr


def test_more_threads_than_cpus_warns_once_and_clamps(tmp_path):
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    r = _evalkit("runs", str(tmp_path), env={"EVALKIT_THREADS": str(n + 5)})
    assert r.returncode == 0, r.stderr
    warning = [ln for ln in r.stderr.splitlines() if "EVALKIT_THREADS" in ln]
    assert len(warning) == 1 and f"using {available_cpus(n, cgroup_cpus())} threads" in warning[0]


def test_configure_sets_the_environment_children_inherit_and_torch(monkeypatch):
    import torch

    from evalkit import threads

    from threadpoolctl import threadpool_info

    for var in (*threads.COUNT_VARS, *threads.BLAS_VARS, "OMP_WAIT_POLICY", "TOKENIZERS_PARALLELISM", threads.ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(threads, "_current", None)
    before = torch.get_num_threads()
    try:
        p = threads.configure(1)
        assert p.threads == 1 and torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
        assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
        assert threads.current() == p
        if threads.available_cpus(threads.affinity_cpus(), threads.cgroup_cpus()) >= 2:
            p = threads.configure(2)  # PyTorch's pools get two, NumPy/SciPy's BLAS one
            assert torch.get_num_threads() == 2 and os.environ["OMP_NUM_THREADS"] == "2"
            assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
            assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    finally:
        torch.set_num_threads(before)


def test_the_cpus_other_processes_keep_busy_are_left_out():
    assert choose(None, 2, busy=0.1).threads == 2
    assert choose(None, 2, busy=0.8).threads == 1  # a CPU counts as taken when 75 % busy
    assert choose(None, 2, busy=2.0).threads == 1  # never fewer than one
    assert choose(None, 8, busy=2.9).threads == 5
    assert choose(2, 2, "--threads", busy=2.0).threads == 2  # an explicit count is kept


def _busy_loop(nice: int) -> subprocess.Popen:
    # pinned to this process's first CPU so the sample sees exactly one busy CPU
    cpu = min(os.sched_getaffinity(0))
    code = f"import os; os.nice({nice}); os.sched_setaffinity(0, {{{cpu}}}); print('ready', flush=True)\nwhile True: pass"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("nice, counted", [(0, True), (19, False)])
def test_others_busy_counts_a_busy_process_unless_it_is_niced(nice, counted):
    from evalkit.threads import others_busy

    proc = _busy_loop(nice)
    try:
        busy = others_busy(interval=1.0)
    finally:
        proc.kill()
        proc.wait()
    assert (busy >= 0.6) if counted else (busy <= 0.4), busy
