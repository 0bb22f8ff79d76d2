"""What a random-weights build may use: the machine's available RAM within the process's memory cgroup
(a container's limit, which the machine's figure does not show), read from cgroup files laid out as the
kernel lays them out (v1 and v2), the tightest of the cgroup and its ancestors."""

from __future__ import annotations

from pathlib import Path

import psutil

from evalkit.capacity.engine import available_bytes, cgroup_free_bytes

GB = 1_000_000_000


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def test_v2_limit_and_a_tighter_parent(tmp_path):
    root, proc = tmp_path / "cgroup", tmp_path / "self-cgroup"
    write(proc, "0::/jobs/job1")
    write(root / "jobs" / "job1" / "memory.max", str(8 * GB))
    write(root / "jobs" / "job1" / "memory.current", str(1 * GB))
    assert cgroup_free_bytes(root, proc) == 7 * GB
    write(root / "jobs" / "memory.max", str(5 * GB))  # the parent's limit applies to its children
    write(root / "jobs" / "memory.current", str(2 * GB))
    assert cgroup_free_bytes(root, proc) == 3 * GB
    assert available_bytes("cpu", None, root, proc) == min(3 * GB, psutil.virtual_memory().available)
    assert available_bytes("cpu", 1 * GB, root, proc) == 1 * GB


def test_v1_memory_controller_and_no_limit(tmp_path):
    root, proc = tmp_path / "cgroup", tmp_path / "self-cgroup"
    write(proc, "4:memory:/process_api/abc\n3:cpu,cpuacct:/\n0::/")
    write(root / "memory" / "process_api" / "abc" / "memory.limit_in_bytes", "9223372036854771712")  # unlimited
    write(root / "memory" / "process_api" / "abc" / "memory.usage_in_bytes", str(GB))
    assert cgroup_free_bytes(root, proc) is None
    assert available_bytes("cpu", None, root, proc) is not None  # the machine's available RAM
    write(root / "memory" / "process_api" / "abc" / "memory.limit_in_bytes", str(3 * GB))
    assert cgroup_free_bytes(root, proc) == 2 * GB
    assert cgroup_free_bytes(root, tmp_path / "no-such-file") is None
