"""The regression gate on runs built from fixed, stored generations and scores (no model needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.records import (
    GenerationParams,
    GenerationRecord,
    Manifest,
    MemoryReading,
    ModelRun,
    ScoreRecord,
    SuiteRef,
    append_jsonl,
    write_json,
)
from evalkit.scorers.base import Metric
from evalkit.scoring import SPEED_METRICS, summarize
from evalkit.suites import load_suite

N = 12
HW = {"machine": "x86_64", "system": "Linux", "cpu": "Test CPU 1", "cores": 2, "memory_gb": 8.0, "gpu": None}
METRICS = {m.name: m for m in SPEED_METRICS} | {
    "coherence": Metric("coherence", "higher", 0.0, 1.0),
    "mtld": Metric("mtld", "higher", 0.0, None),
    "seq_rep_4": Metric("seq_rep_4", "lower", 0.0, 1.0),
    "grade": Metric("grade", "target", None, None),
}
REGRESS = """
[regress]
min_pairs = 4
[regress.tolerance]
coherence = { absolute = 0.03 }
mtld = { relative = 0.10 }
"""


def make_suite(root: Path, name: str = "gate", n: int = N, prompt_of=lambda k: f"A fox finds lantern number {k}.") -> Path:
    d = root / f"suite-{name}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "suite.toml").write_text(
        f'name = "{name}"\nsplits = ["test"]\ndefault_split = "test"\n[genres]\n"Fantasy" = "Magic."\n' + REGRESS)
    lines = [json.dumps({"id": f"s{k:02d}", "genre": "Fantasy", "characters": [{"name": "Ada", "description": "a fox"}],
                         "prompt": prompt_of(k), "story": "Ada the fox found a lantern.", "split": "test"})
             for k in range(n)]
    (d / "stories.jsonl").write_text("\n".join(lines) + "\n")
    return d


def base_scores(k: int) -> dict[str, float]:
    return {"coherence": 0.55 + 0.03 * ((k * 7) % 5), "mtld": 60.0 + 5 * ((k * 3) % 4),
            "seq_rep_4": 0.05 + 0.01 * (k % 3), "grade": 3.0 + (k % 2), "seconds_per_story": 2.0 + 0.1 * (k % 4),
            "tokens_per_s": 50.0, "ttft_s": 0.2}


def jitter(k: int, size: float) -> float:
    """Deterministic small noise, mean 0 over 12 stories."""
    return size * ((k * 5) % 3 - 1)


def make_run(results: Path, run_id: str, suite_dir: Path, scores: dict[str, dict[str, dict[str, float]]],
             hardware: dict | None = None, peak_gb: float = 1.0, status: str = "complete",
             created: str = "2025-03-01T10:00:00Z") -> Path:
    """A run folder as the runner and scorer write it, from fixed stories and per-story scores."""
    suite = load_suite(suite_dir)
    run = results / run_id
    items = [i.id for i in suite.split("test")]
    manifest = Manifest(
        run_id=run_id, created=created, finished=created, status=status, evalkit_version="0.1.0", python="3.11",
        hardware=HW if hardware is None else hardware, params=GenerationParams(),
        suite=SuiteRef(name=suite.name, path=str(suite_dir), hash=suite.hash, split="test", item_ids=items),
        models=[ModelRun(label=label, spec={}, model_key=f"key-{label}",
                         memory=MemoryReading(kind="rss", peak_bytes=int(peak_gb * 1e9)))
                for label in scores],
    )
    write_json(run / "manifest.json", manifest)
    gens, recs = [], []
    for label, per_item in scores.items():
        for item_id, values in per_item.items():
            gens.append(GenerationRecord(key=f"{label}-{item_id}", model=label, model_key=f"key-{label}", item_id=item_id,
                                         seed=1234, params_key="p", text=f"Ada the fox and lantern {item_id}.",
                                         latency_s=values["seconds_per_story"]))
            recs.append(ScoreRecord(model=label, item_id=item_id, gen_key=f"{label}-{item_id}", scores=values))
    append_jsonl(run / "generations.jsonl", gens)
    append_jsonl(run / "scores.jsonl", recs)
    write_json(run / "summary.json", summarize(manifest, recs, METRICS))
    return run


def series(change=lambda k, s: s, items: int = N) -> dict[str, dict[str, float]]:
    return {f"s{k:02d}": change(k, base_scores(k)) for k in range(items)}


def run_cli(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as e:
        return int(e.code or 0)
    return 0


@pytest.fixture()
def world(tmp_path: Path):
    results = tmp_path / "results"
    suite = make_suite(tmp_path)
    base = make_run(results, "base", suite, {"m": series()})
    return tmp_path, results, suite, base


def verdict(run: Path) -> dict:
    return json.loads((run / "regress.json").read_text())


def test_planted_regression_in_one_metric_exits_1_and_names_it(world, capsys):
    tmp, results, suite, base = world

    def worse(k, s):  # coherence drops by 0.10 on every story; everything else only jitters
        return s | {"coherence": s["coherence"] - 0.10 + jitter(k, 0.01), "mtld": s["mtld"] + jitter(k, 1.0),
                    "seq_rep_4": s["seq_rep_4"] + jitter(k, 0.002), "seconds_per_story": s["seconds_per_story"] + jitter(k, 0.05)}

    cand = make_run(results, "cand", suite, {"m": series(worse)}, created="2025-03-02T10:00:00Z")
    assert run_cli("regress", "--baseline", str(base), "--candidate", str(cand)) == 1
    out = capsys.readouterr().out
    assert "REGRESSION: coherence" in out.splitlines()[-1]
    data = verdict(cand)
    assert data["regressions"] == ["coherence"] and data["verdict"] == "regression"
    coh = next(c for c in data["checks"] if c["metric"] == "coherence")
    assert coh["delta"] == pytest.approx(-0.10, abs=0.002) and coh["ci_high"] < 0 and coh["n"] == N
    grade = next(c for c in data["checks"] if c["metric"] == "grade")
    assert grade["verdict"] == "skipped" and "not gated" in grade["reason"]
    assert not any(c["metric"] in ("tokens_per_s", "ttft_s") for c in data["checks"])
    md = (cand / "regress.md").read_text()
    assert "REGRESSION: coherence" in md and "| m | coherence |" in md


def test_change_smaller_than_noise_passes(world, capsys):
    tmp, results, suite, base = world
    # mean drop 0.04 is beyond the 0.03 tolerance, but the stories disagree wildly: noise, not a regression
    cand = make_run(results, "cand", suite, {"m": series(lambda k, s: s | {"coherence": s["coherence"] - 0.04 + (0.25 if k % 2 else -0.25)})})
    assert run_cli("regress", "-b", str(base), "-c", str(cand)) == 0
    coh = next(c for c in verdict(cand)["checks"] if c["metric"] == "coherence")
    assert coh["verdict"] == "worse (noise)" and coh["ci_low"] < 0 < coh["ci_high"]
    assert capsys.readouterr().out.splitlines()[-1].startswith("PASS")


def test_significant_but_tolerated_drop_passes(world):
    tmp, results, suite, base = world
    cand = make_run(results, "cand", suite, {"m": series(lambda k, s: s | {"coherence": s["coherence"] - 0.01 + jitter(k, 0.001)})})
    assert run_cli("regress", "-b", str(base), "-c", str(cand)) == 0
    coh = next(c for c in verdict(cand)["checks"] if c["metric"] == "coherence")
    assert coh["verdict"] == "worse (tolerated)" and coh["ci_high"] < 0


def test_improvement_is_not_a_regression(world):
    tmp, results, suite, base = world
    cand = make_run(results, "cand", suite, {"m": series(lambda k, s: s | {"seq_rep_4": s["seq_rep_4"] - 0.03 + jitter(k, 0.001)})})
    assert run_cli("regress", "-b", str(base), "-c", str(cand)) == 0
    assert next(c for c in verdict(cand)["checks"] if c["metric"] == "seq_rep_4")["verdict"] == "better"


def test_speed_and_memory_gate_only_on_matching_hardware(world, capsys):
    tmp, results, suite, base = world
    slower = lambda k, s: s | {"seconds_per_story": s["seconds_per_story"] * 1.5}  # noqa: E731
    same = make_run(results, "same-hw", suite, {"m": series(slower)}, peak_gb=1.3)
    assert run_cli("regress", "-b", str(base), "-c", str(same)) == 1
    assert sorted(verdict(same)["regressions"]) == ["peak_memory_gb", "seconds_per_story"]
    capsys.readouterr()
    other = make_run(results, "other-hw", suite, {"m": series(slower)}, peak_gb=1.3, hardware=HW | {"cpu": "Test CPU 2"})
    assert run_cli("regress", "-b", str(base), "-c", str(other)) == 0
    out = capsys.readouterr().out
    assert "speed and memory skipped: hardware differs (cpu: 'Test CPU 1' vs 'Test CPU 2')" in out
    skipped = {c["metric"]: c for c in verdict(other)["checks"] if c["verdict"] == "skipped"}
    assert "seconds_per_story" in skipped and "peak_memory_gb" in skipped


def test_newly_failed_stories_regress(world):
    tmp, results, suite, base = world
    cand = make_run(results, "cand", suite, {"m": series(items=N - 2)})
    assert run_cli("regress", "-b", str(base), "-c", str(cand)) == 1
    assert verdict(cand)["regressions"] == ["failed_stories"]


def test_mismatched_suites_and_items_exit_2(world, capsys):
    tmp, results, suite, base = world
    other = make_run(results, "other", make_suite(tmp, "other"), {"m": series()})
    assert run_cli("regress", "-b", str(base), "-c", str(other)) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: baseline ran suite 'gate' but candidate ran suite 'other': compare runs of one suite"
    fewer = make_run(tmp / "r2", "fewer", make_suite(tmp / "x", "gate", n=N - 1), {"m": series(items=N - 1)})
    assert run_cli("regress", "-b", str(base), "-c", str(fewer)) == 2
    err = capsys.readouterr().err
    assert "different items" in err and "1 only in baseline (s11)" in err and "Traceback" not in err
    assert not (other / "regress.json").exists()


def test_unfinished_candidate_and_bad_usage_exit_2(world, capsys):
    tmp, results, suite, base = world
    cand = make_run(results, "cand", suite, {"m": series()}, status="interrupted")
    assert run_cli("regress", "-b", str(base), "-c", str(cand)) == 2
    assert "did not finish (status interrupted)" in capsys.readouterr().err
    assert run_cli("regress", "-b", str(base)) == 2
    assert "either --candidate RUN or one or more model names" in capsys.readouterr().err
    assert run_cli("regress", "-b", str(tmp / "nowhere"), "-c", str(base)) == 2


def test_pinned_baseline_is_small_and_gates_like_the_run(world, capsys):
    tmp, results, suite, base = world
    pin = tmp / "baselines" / "gate-m.json"
    assert run_cli("regress", "--baseline", str(base), "--pin", str(pin)) == 0
    data = json.loads(pin.read_text())
    assert data["schema"] == "evalkit.baseline/1" and data["source_run"] == "base"
    assert len(data["suite"]["item_hashes"]) == N and set(data["models"]) == {"m"}
    assert data["models"]["m"]["stories"]["s03"]["seconds_per_story"] == pytest.approx(2.3)
    assert pin.stat().st_size < 20_000
    cand = make_run(results, "cand", suite, {"m": series(lambda k, s: s | {"mtld": s["mtld"] * 0.8 + jitter(k, 0.5)})})
    assert run_cli("regress", "-b", str(pin), "-c", "cand", "--results-dir", str(results)) == 1
    from_pin = verdict(cand)
    assert run_cli("regress", "-b", "base", "-c", "cand", "-r", str(results)) == 1
    from_run = verdict(cand)
    assert from_pin["regressions"] == from_run["regressions"] == ["mtld"]
    assert [c["ci_low"] for c in from_pin["checks"]] == [c["ci_low"] for c in from_run["checks"]]
    capsys.readouterr()
    edited = json.loads(pin.read_text())
    edited["models"]["m"]["stories"]["s00"]["mtld"] = 1.0
    pin.write_text(json.dumps(edited))
    assert run_cli("regress", "-b", str(pin), "-c", str(cand)) == 2
    assert "content hash does not match" in capsys.readouterr().err
    pin.write_text(pin.read_text()[:200])  # torn file: never trusted
    assert run_cli("regress", "-b", str(pin), "-c", str(cand)) == 2
    assert "damaged JSON" in capsys.readouterr().err


def test_changed_prompt_under_same_id_exits_2(tmp_path, capsys):
    results = tmp_path / "results"
    suite = make_suite(tmp_path)
    base = make_run(results, "base", suite, {"m": series()})
    pin = tmp_path / "pin.json"
    assert run_cli("regress", "-b", str(base), "--pin", str(pin)) == 0
    make_suite(tmp_path, prompt_of=lambda k: f"A fox finds lantern number {k}." if k else "A different prompt.")
    cand = make_run(results, "cand", suite, {"m": series()})
    assert run_cli("regress", "-b", str(pin), "-c", str(cand)) == 2
    assert "1 item(s) of suite 'gate' changed their prompt since the baseline (s00)" in capsys.readouterr().err


def test_model_pairing(tmp_path, capsys):
    results = tmp_path / "results"
    suite = make_suite(tmp_path)
    base = make_run(results, "base", suite, {"a": series(), "b": series()})
    drop = lambda k, s: s | {"coherence": s["coherence"] - 0.2}  # noqa: E731
    cand = make_run(results, "cand", suite, {"a": series(), "b": series(drop)})
    assert run_cli("regress", "-b", str(base), "-c", str(cand)) == 1
    assert verdict(cand)["regressions"] == ["b:coherence"]
    assert capsys.readouterr().out.splitlines()[-1] == "REGRESSION: coherence (b)"
    assert run_cli("regress", "-b", str(base), "-c", str(cand), "--baseline-model", "a", "--candidate-model", "a") == 0
    assert run_cli("regress", "-b", str(base), "-c", str(cand), "--candidate-model", "zz") == 2


def test_real_scorers_on_stored_generations(tmp_path):
    """Stored stories scored by the real repetition scorer: looping stories regress, identical ones do not."""
    from evalkit.pipeline import score_run

    results = tmp_path / "results"
    suite_dir = make_suite(tmp_path)
    animals = ["fox", "owl", "bear", "hare", "wren", "mole", "frog", "deer", "lynx", "crow", "newt", "seal"]

    def story(k: int, looped: bool) -> str:
        a = animals[k]
        text = (f"Ada the fox met a {a} near the old mill. The {a} carried a lantern that glowed green. "
                f"Together they crossed the river at dusk and counted {k + 3} stars. At home the {a} told the owls.")
        return text + f" The {a} said hello again and again." * (6 if looped else 0)

    def stored_run(run_id: str, looped: bool) -> Path:
        run = make_run(results, run_id, suite_dir, {"m": series()})
        (run / "generations.jsonl").unlink()
        (run / "scores.jsonl").unlink()
        append_jsonl(run / "generations.jsonl", [
            GenerationRecord(key=f"m-s{k:02d}", model="m", model_key="key-m", item_id=f"s{k:02d}", seed=1234,
                             params_key="p", text=story(k, looped), completion_tokens=60, latency_s=2.0)
            for k in range(N)])
        score_run(run, ["repetition"])
        return run

    base, same, looped = stored_run("base", False), stored_run("same", False), stored_run("looped", True)
    assert run_cli("regress", "-b", str(base), "-c", str(same)) == 0
    assert all(c["delta"] in (0, None) for c in verdict(same)["checks"])
    assert run_cli("regress", "-b", str(base), "-c", str(looped)) == 1
    from evalkit.scoring import load_scorers

    regressed = set(verdict(looped)["regressions"])
    assert {"seq_rep_4", "distinct_2"} <= regressed <= {m.name for m in load_scorers(["repetition"])[0].metrics}


def test_console_script_exit_code(world):
    """The installed `evalkit` entry point maps a regression to exit status 1."""
    tmp, results, suite, base = world
    cand = make_run(results, "cand", suite, {"m": series(lambda k, s: s | {"coherence": s["coherence"] - 0.2})})
    exe = Path(sys.executable).with_name("evalkit")
    if not exe.exists():
        pytest.skip("evalkit console script not installed next to this python")
    proc = subprocess.run([str(exe), "regress", "-b", str(base), "-c", str(cand)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "REGRESSION: coherence"


@pytest.mark.slow
def test_regress_runs_named_models_through_the_runner(tmp_path, tiny_gpt2_dir, capsys):
    """Model names as the candidate: the runner generates on the baseline's suite with its settings
    and scorers. Same model, same seed: its stories come from the generation cache, nothing regresses."""
    from evalkit.runner import run_compare

    results = tmp_path / "results"
    base = run_compare([str(tiny_gpt2_dir)], suite="smoke", results_dir=results,
                       params={"max_new_tokens": 8, "seed": 7}, scorers=["repetition"])
    pin = tmp_path / "smoke-tiny.json"
    assert run_cli("regress", "-b", str(base), "--pin", str(pin)) == 0
    assert run_cli("regress", "-b", str(pin), "-r", str(results), str(tiny_gpt2_dir)) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("PASS")
    cand = next(p for p in results.iterdir() if (p / "regress.json").exists())
    data = verdict(cand)
    assert data["baseline"]["run_id"] == base.name and data["candidate"]["run_id"] == cand.name != base.name
    assert {c["metric"] for c in data["checks"]} >= {"seq_rep_4", "distinct_2"}
    assert json.loads((cand / "manifest.json").read_text())["params"]["seed"] == 7


def test_stories_that_stop_being_scorable_regress(world):
    """An empty or too-short story scores None: a metric the candidate can no longer score is not a pass."""
    tmp, results, suite, base = world
    cand = make_run(results, "cand", suite, {"m": series(lambda k, s: s | {"mtld": None} if k > 1 else s)})
    assert run_cli("regress", "-b", str(base), "-c", str(cand)) == 1
    data = verdict(cand)
    mtld = next(c for c in data["checks"] if c["metric"] == "mtld")
    assert data["regressions"] == ["mtld"] and "only 2 of the baseline's 12 scored stories" in mtld["reason"]


def test_half_written_candidate_is_never_trusted(world, capsys):
    tmp, results, suite, base = world
    cand = make_run(results, "cand", suite, {"m": series()})
    (cand / "summary.json").write_text((cand / "summary.json").read_text()[:120])
    assert run_cli("regress", "-b", str(base), "-c", str(cand)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "summary.json: damaged JSON" in err and len(err.strip().splitlines()) == 1


def test_regress_config_from_suites():
    from evalkit.errors import EvalkitError
    from evalkit.regress import RegressConfig

    smoke = RegressConfig.from_suite_config(load_suite("smoke").config)
    assert smoke.tolerance("coherence").kind == "absolute" and smoke.tolerance("unknown_metric") == smoke.default
    assert smoke.tolerance("mtld").resolve(50.0) == pytest.approx(5.0)
    for bad in ({"tolerance": {"coherence": {"absolute": 0.1, "relative": 0.1}}}, {"tolerance": {"x": -1}},
                {"confidence": 1.5}, {"skip": "ttft_s"}, {"default": {"percent": 5}}):
        with pytest.raises(EvalkitError, match=r"\[regress"):
            RegressConfig.from_suite_config({"regress": bad})


def test_an_items_samples_are_averaged_not_overwritten(world):
    """--samples: a run holds several stories per item; the gate compares item means (the star table's
    cluster test), never whichever sample's line came last."""
    from evalkit.records import ScoreRecord, append_jsonl
    from evalkit.regress import load_run

    tmp_path, results, suite, base = world
    first = load_run(base).models["m"].stories
    extra = []
    for item, values in first.items():  # a second sample per item: every metric 10 higher, one left unscored
        extra.append(ScoreRecord(model="m", item_id=item, gen_key=f"m-{item}-1", sample=1,
                                 scores={k: (None if k == "mtld" else v + 10) for k, v in values.items()}))
    append_jsonl(base / "scores.jsonl", extra)
    two = load_run(base).models["m"].stories
    for item, values in first.items():
        assert two[item]["coherence"] == pytest.approx(values["coherence"] + 5)  # the mean of v and v + 10
        assert two[item]["mtld"] == pytest.approx(values["mtld"])  # the unscored sample is left out
