"""The results folder as a store shared by processes: locked JSONL appends, atomic JSON, unique run
folders, and nothing half-written that a later command trusts (real processes, real files)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from evalkit.errors import RecordError
from evalkit.history import scan_runs
from evalkit.records import GenerationRecord, Manifest, append_jsonl, iter_jsonl, load_manifest, read_json

REPO = Path(__file__).resolve().parent.parent


def spawn(code: str, *args: str) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(*procs: subprocess.Popen, timeout: float = 120) -> None:
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err[-2000:]


WRITER = """
    import sys, time
    from pathlib import Path
    from evalkit.records import GenerationRecord, append_jsonl
    path, who, n, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():  # start both writers at the same moment
        time.sleep(0.005)
    for k in range(n):  # batches of 5 lines of ~6 KB: several write() calls each
        append_jsonl(path, [GenerationRecord(key=f"{who}-{k}-{j}", model=who, model_key=who, item_id=f"{k}-{j}",
                                             seed=k, params_key="p", text=(who + " story ") * 600) for j in range(5)])
"""


def test_two_processes_append_to_one_jsonl(tmp_path: Path):
    path, go, n = tmp_path / "generations.jsonl", tmp_path / "go", 60
    procs = [spawn(WRITER, str(path), who, str(n), str(go)) for who in ("alpha", "beta")]
    time.sleep(1.0)
    go.touch()
    finish(*procs)
    problems: list[str] = []
    keys = [r.key for r in iter_jsonl(path, GenerationRecord, problems)]
    assert problems == [] and len(path.read_text().splitlines()) == 2 * n * 5
    for who in ("alpha", "beta"):  # every record whole, each writer's order kept
        assert [x for x in keys if x.startswith(who)] == [f"{who}-{k}-{j}" for k in range(n) for j in range(5)]
    # the lock keeps each batch together: the other writer never lands inside one
    batches = [keys[i:i + 5] for i in range(0, len(keys), 5)]
    assert all(len({x.rsplit("-", 1)[0] for x in b}) == 1 for b in batches)


def test_readers_never_see_a_half_written_json(tmp_path: Path):
    path, go = tmp_path / "manifest.json", tmp_path / "go"
    code = """
        import sys, time
        from pathlib import Path
        from evalkit.records import write_json
        path, go = Path(sys.argv[1]), Path(sys.argv[2])
        while not go.exists():
            time.sleep(0.005)
        for k in range(300):
            write_json(path, {"k": k, "payload": ["x" * 100] * (200 + k % 50)})
    """
    from evalkit.records import write_json

    write_json(path, {"k": -1, "payload": []})
    writers = [spawn(code, str(path), str(go)) for _ in range(2)]
    time.sleep(1.0)
    go.touch()
    seen = set()
    while any(w.poll() is None for w in writers):
        seen.add(read_json(path)["k"])  # raises RecordError on a torn file
    finish(*writers)
    assert len(seen) > 1 and read_json(path)["k"] == 299
    assert not list(tmp_path.glob(".manifest.json.*.tmp"))


def test_run_folders_are_unique_across_processes(tmp_path: Path):
    code = """
        import sys, time
        from pathlib import Path
        from evalkit.runner import new_run_dir
        go = Path(sys.argv[2])
        while not go.exists():
            time.sleep(0.005)
        for _ in range(40):
            print(new_run_dir(Path(sys.argv[1])).name)
    """
    results, go = tmp_path / "results", tmp_path / "go"
    procs = [spawn(code, str(results), str(go)) for _ in range(2)]
    time.sleep(1.0)
    go.touch()
    names = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        names += out.split()
    assert len(names) == 80 and len(set(names)) == 80 and len(list(results.iterdir())) == 80


def test_killed_writer_leaves_nothing_trusted(tmp_path: Path):
    """kill -9 in the middle of writes: JSON files are old-or-new, a torn JSONL line is skipped and
    reported, the next append starts on a fresh line, and a torn manifest is flagged, not trusted."""
    code = """
        import sys
        from pathlib import Path
        from evalkit.records import write_json
        k = 0
        while True:
            write_json(Path(sys.argv[1]), {"k": k, "payload": "y" * 200_000})
            k += 1
    """
    target = tmp_path / "summary.json"
    p = spawn(code, str(target))
    deadline = time.time() + 20
    while not target.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    assert isinstance(read_json(target)["k"], int)

    jl = tmp_path / "scores.jsonl"
    good = GenerationRecord(key="a", model="m", model_key="m", item_id="1", seed=1, params_key="p", text="ok")
    append_jsonl(jl, [good])
    with open(jl, "a") as f:  # what a writer killed mid-line leaves
        f.write(good.model_dump_json(by_alias=True)[:40])
    append_jsonl(jl, [good.model_copy(update={"key": "b"})])
    problems: list[str] = []
    assert [r.key for r in iter_jsonl(jl, GenerationRecord, problems)] == ["a", "b"]
    assert len(problems) == 1 and "skipped a damaged line" in problems[0]

    run = tmp_path / "results" / "20250101-000000-abcdef"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text('{"schema": "evalkit.manifest/1", "run_id": "2025')
    with pytest.raises(RecordError, match="damaged JSON"):
        load_manifest(run)
    (entry,) = scan_runs(tmp_path / "results")
    assert entry.state == "damaged" and not entry.trusted


@pytest.mark.slow
def test_two_compare_processes_share_a_results_folder(tmp_path: Path, tiny_gpt2_dir: Path):
    """Two real `evalkit compare` processes (tiny GPT-2) into one results folder at once: both finish,
    each in its own folder with whole records, and the store reads back clean (runs, leaderboard)."""
    from evalkit.leaderboard import build

    results = tmp_path / "results"
    env = os.environ | {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "evalkit.cli", "compare", str(tiny_gpt2_dir), "--suite", "smoke", "--scorers",
           "repetition", "--max-new-tokens", "8", "--batch-size", "1", "--results-dir", str(results)]
    procs = [subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out[-3000:]
    entries = scan_runs(results)
    assert len(entries) == 2 and all(e.state == "complete" and e.scored and e.rated for e in entries), entries
    for e in entries:
        m: Manifest = load_manifest(e.path)
        problems: list[str] = []
        gens = list(iter_jsonl(e.path / "generations.jsonl", GenerationRecord, problems))
        assert problems == [] and sorted(g.item_id for g in gens) == sorted(m.suite.item_ids)
        assert read_json(e.path / "summary.json")["run_id"] == e.run_id == read_json(e.path / "rating.json")["run_id"]
    problems = []
    cache = [r for f in (results / ".cache" / "generations").glob("*.jsonl") for r in iter_jsonl(f, GenerationRecord, problems)]
    assert cache and problems == []
    (group,) = build(results, all_runs=True).groups
    assert len(group.entries) == 2 and {e.run_id for e in group.entries} == {e.run_id for e in entries}
