"""What a run measures about the machine and each model (evalkit/measure.py)."""

from __future__ import annotations

import mmap

from evalkit.measure import MemoryTracker, current_rss, device_line, hardware, peak_rss


def test_rss_tracker_sees_memory_the_model_adds() -> None:
    tracker = MemoryTracker()
    tracker.start()
    # Fresh anonymous pages: a bytearray may reuse heap pages an earlier test left resident
    # (glibc keeps freed arenas), and then RSS does not grow at all.
    block = mmap.mmap(-1, 200 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    reading = tracker.stop()
    assert reading.kind == "rss" and reading.baseline_bytes is not None
    assert reading.peak_bytes - reading.baseline_bytes >= 190 * 1024 * 1024
    assert peak_rss() >= current_rss() > 0
    block.close()


def test_a_remote_model_is_not_measurable() -> None:
    reading = MemoryTracker(remote=True)
    reading.start()
    assert reading.stop().kind == "not measurable"


def test_device_line_names_the_gpu_or_the_cpu() -> None:
    hw = hardware()
    assert hw["cores"] >= 1 and hw["cpu"]
    assert device_line({"gpu": "NVIDIA H200", "cores": 16}) == "cuda NVIDIA H200"
    assert device_line({"gpu": None, "cores": 2, "cpu": "Test CPU"}) == "cpu (2 cores, Test CPU)"
