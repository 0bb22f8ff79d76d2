"""`evalkit compare` as a user runs it: real processes, a real third-party plugin package, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SRC = REPO / "tests" / "data" / "evalkit-echo-plugin"


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip-install the tiny plugin package into its own folder (no network, no change to the venv)."""
    site = tmp_path_factory.mktemp("plugin-site")
    build = tmp_path_factory.mktemp("plugin-build")
    src = build / "src"
    import shutil

    shutil.copytree(PLUGIN_SRC, src)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(src)], check=True, timeout=180)
    return site


def evalkit(*args: str, env_extra: dict | None = None, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300, **kw)


def plugin_env(site: Path) -> dict:
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def models_file(tmp_path: Path, delay: float = 0.0) -> Path:
    f = tmp_path / "models.toml"
    f.write_text(f'[models.echo-a]\nbackend = "echo"\nsource = "a"\ndelay_s = {delay}\n'
                 f'[models.echo-b]\nbackend = "echo"\nsource = "b"\n')
    return f


def test_plugin_backend_runs_end_to_end(plugin_site, tmp_path):
    res = evalkit("compare", "echo-a", "echo-b", "--suite", "smoke", "--results-dir", str(tmp_path / "r"),
                  "--models-file", str(models_file(tmp_path)), "--scorers", "repetition,vocabulary",
                  env_extra=plugin_env(plugin_site))
    assert res.returncode == 0, res.stderr[-2000:]
    (run_dir,) = [p for p in (tmp_path / "r").iterdir() if p.name[0].isdigit()]
    gens = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
    assert len(gens) == 10 and {g["model"] for g in gens} == {"echo-a", "echo-b"}
    assert "Kofi and Grandma Ines had a adventure & exploration day." in {g["text"].split(" A boy")[0] for g in gens}
    assert (run_dir / "report.md").is_file() and "Story Coherence" in (run_dir / "report.md").read_text()


def test_without_the_plugin_the_backend_is_unknown(tmp_path):
    res = evalkit("compare", "echo-a", "--suite", "smoke", "--results-dir", str(tmp_path / "r"),
                  "--models-file", str(models_file(tmp_path)))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]  # one line
    assert "unknown backend 'echo'" in res.stderr and "Traceback" not in res.stderr


def _wait_for_lines(path: Path, n: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} never reached {n} lines")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_or_interrupted_run_resumes_without_regenerating(plugin_site, tmp_path, sig):
    results = tmp_path / "r"
    release = tmp_path / "release"  # the backend writes two stories, then waits for this file: the signal
    args = [sys.executable, "-m", "evalkit.cli", "compare", "echo-a", "--suite", "smoke", "--results-dir",
            str(results), "--models-file", str(models_file(tmp_path, delay=0.2)), "--batch-size", "1",
            "--scorers", "repetition"]  # always arrives mid-run, however loaded the machine
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **plugin_env(plugin_site),
           "ECHO_HOLD_AFTER": "2", "ECHO_RELEASE_FILE": str(release)}
    # SIGINT as a terminal gives it: a shell starting pytest in the background (`cmd &`, no job control)
    # makes every child ignore SIGINT, and Python then never raises KeyboardInterrupt
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    cache = next_cache_file = None
    deadline = time.time() + 120
    while time.time() < deadline and next_cache_file is None:
        files = list((results / ".cache" / "generations").glob("*.jsonl")) if results.exists() else []
        next_cache_file = files[0] if files else None
        time.sleep(0.05)
    cache = next_cache_file
    _wait_for_lines(cache, 2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)  # the interrupted child is given 2 + 10 + 5 + 5 s at most
    done_before = {json.loads(line)["item_id"] for line in cache.read_text().splitlines()}
    assert len(done_before) == 2
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "rerun the same command to resume" in err
        (interrupted,) = [p for p in results.iterdir() if p.name[0].isdigit()]
        assert json.loads((interrupted / "manifest.json").read_text())["status"] == "interrupted"
    else:
        assert proc.returncode == -signal.SIGKILL
    release.touch()
    first = {p for p in results.iterdir() if p.name[0].isdigit()}
    res = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    (rerun,) = {p for p in results.iterdir() if p.name[0].isdigit()} - first  # ids of one second sort at random
    manifest = json.loads((rerun / "manifest.json").read_text())
    m = manifest["models"][0]
    assert m["n_cached"] == len(done_before) and m["n_generated"] == 5 - len(done_before)
    lines = cache.read_text().splitlines()
    assert len(lines) == 5 and len({json.loads(line)["item_id"] for line in lines}) == 5


def test_two_runs_share_one_results_folder(plugin_site, tmp_path):
    results = tmp_path / "r"
    args = [sys.executable, "-m", "evalkit.cli", "compare", "echo-a", "echo-b", "--suite", "smoke",
            "--results-dir", str(results), "--models-file", str(models_file(tmp_path, delay=0.05)),
            "--batch-size", "1", "--scorers", "repetition"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **plugin_env(plugin_site)}
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    runs = [p for p in results.iterdir() if p.name[0].isdigit()]
    assert len(runs) == 2
    for r in runs:
        assert json.loads((r / "manifest.json").read_text())["status"] == "complete"
        assert len((r / "scores.jsonl").read_text().splitlines()) == 10


@pytest.mark.parametrize("args, message", [
    (["compare", "smollm-135m", "--suite", "smoke"], "did you mean smollm2-135m"),
    (["compare", "echo-a", "--suite", "smoke", "--split", "dev"], "unknown split 'dev'"),
    (["compare", "echo-a", "--suite", "smoke", "--split", "train"], "split 'train' of suite 'smoke' is empty"),
    (["compare", "echo-a", "--suite", "nope"], "unknown suite 'nope'"),
    (["compare", "echo-a", "--suite", "smoke", "-o", "echo-a=3"], "write MODEL.KEY=VALUE"),
])
def test_bad_input_is_one_line_and_exit_2(plugin_site, tmp_path, args, message):
    res = evalkit(*args, "--results-dir", str(tmp_path / "r"), "--models-file", str(models_file(tmp_path)),
                  env_extra=plugin_env(plugin_site))
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_folder_that_is_not_a_model_and_malformed_suite(tmp_path):
    (tmp_path / "notamodel").mkdir()
    res = evalkit("compare", str(tmp_path / "notamodel"), "--suite", "smoke", "--results-dir", str(tmp_path / "r"))
    assert res.returncode == 2 and "not a model folder" in res.stderr
    suite = tmp_path / "badsuite"
    suite.mkdir()
    (suite / "suite.toml").write_text('[genres]\nFantasy = "magic"\n')
    (suite / "stories.jsonl").write_text('{"id": "a", "genre": "Fantasy"}\n')
    res = evalkit("compare", "hf:x/y", "--suite", str(suite), "--results-dir", str(tmp_path / "r"))
    assert res.returncode == 2 and "stories.jsonl:1: missing 'characters'" in res.stderr


def test_missing_weights_paragraph(tmp_path):
    res = evalkit("compare", "distilgpt2-base", "--suite", "smoke", "--results-dir", str(tmp_path / "r"),
                  env_extra={"HF_HUB_CACHE": str(tmp_path / "empty")})
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "distilgpt2" in res.stderr and "local model folder or .gguf file" in res.stderr


def test_help_is_fast_and_imports_no_torch():
    code = ("import sys, time; t=time.time(); import evalkit, evalkit.cli; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules; print(time.time()-t)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    res = evalkit("--help")
    assert res.returncode == 0 and "compare" in res.stdout and "leaderboard" in res.stdout
