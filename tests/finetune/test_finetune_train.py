"""Both recipes end to end on tiny random-weight models: training, the record, the kept best checkpoint,
`compare` reading the record (Training Time), resume after kill -9, and the refusals (exit 2)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.finetune.train import FinetuneOptions, run_finetune

SMOKE = Path(__file__).resolve().parents[2] / "suites" / "smoke"


def make_suite(root: Path, n_train: int = 4, n_val: int = 2, words: int = 30) -> Path:
    """A small suite in the smoke format: the smoke stories cut short, cycled into train/validation."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "suite.toml").write_text((SMOKE / "suite.toml").read_text().split("[regress]")[0]
                                     .replace('name = "smoke"', 'name = "tiny-tales"'))
    rows = [json.loads(line) for line in (SMOKE / "stories.jsonl").read_text().splitlines() if line.strip()]
    lines = []
    for i in range(n_train + n_val):
        r = dict(rows[i % len(rows)])
        r["id"] = f"t{i}"
        r["split"] = "train" if i < n_train else "validation"
        r["story"] = " ".join(r["story"].split()[:words])
        lines.append(json.dumps(r))
    (root / "stories.jsonl").write_text("\n".join(lines) + "\n")
    return root


# Tiny models train faster on one thread, and two threads spin badly on a busy 2-core machine.
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def evalkit(*args: str, cwd: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**ENV, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory) -> Path:
    return make_suite(tmp_path_factory.mktemp("suite") / "tiny-tales")


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, tiny_gpt2_dir, suite_dir):
    """A preset (from a models file) whose fine-tuned checkpoint is where `finetune` writes by default."""
    root = tmp_path_factory.mktemp("full")
    out = root / "finetuned" / "tiny-gpt2"
    models = root / "models.toml"
    models.write_text(f'[models.tiny-gpt2]\nbackend = "hf"\nsource = "{tiny_gpt2_dir}"\nfinetuned = "{out}"\n')
    opts = FinetuneOptions(model="tiny-gpt2", suite=str(suite_dir), recipe="full", models_file=str(models),
                           overrides={"epochs": 8, "learning_rate": 3e-3, "batch_size": 2, "effective_batch_size": 2,
                                      "mixed_precision": "no"})
    result = run_finetune(opts)
    return result.record, out, models, opts


@pytest.mark.slow
def test_full_recipe_trains_and_keeps_the_best_checkpoint(full_run, suite_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq

    from evalkit.finetune.data import build_examples
    from evalkit.suites import load_suite

    rec, out, _, _ = full_run
    assert Path(rec.output) == out.resolve() and rec.output_kind == "checkpoint" and rec.format == "plain"
    losses = [h["loss"] for h in rec.loss_history]
    assert rec.global_step == 16 and len(losses) == 16
    assert losses[-1] < losses[0] - 0.5  # a tiny set overfits
    evals = [e["eval_loss"] for e in rec.eval_history]
    assert rec.initial_validation_loss == evals[0] and len(evals) == 9  # before training + every epoch
    assert rec.wall_time_s > 0 and rec.tokens_seen == 8 * rec.suite.train_tokens
    assert (rec.suite.n_train, rec.suite.n_eval, rec.suite.train_split) == (4, 2, "train")
    assert rec.base.fingerprint and rec.base.trainable_parameters == rec.base.parameters
    assert rec.peak_memory.peak_bytes and rec.libraries["transformers"] and rec.device.startswith("cpu")
    # only the kept weights remain, and they are the best checkpoint's: their validation loss is the minimum
    assert not (out / "checkpoints").exists() and not (out / "finetune_plan.json").exists()
    assert (out / "config.json").is_file() and (out / "training_record.json").is_file()
    assert rec.validation_loss == pytest.approx(min(evals[1:]), abs=1e-5)
    assert rec.best_step == rec.eval_history[1 + evals[1:].index(min(evals[1:]))]["step"]
    suite = load_suite(suite_dir)
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    examples, _ = build_examples(suite, suite.split("validation"), tok, "plain", 512)
    with torch.no_grad():
        loss = model(**DataCollatorForSeq2Seq(tok, padding=True)(examples)).loss.item()
    assert loss == pytest.approx(min(evals[1:]), abs=1e-4)


@pytest.mark.slow
def test_compare_reads_the_training_record(full_run, tmp_path):
    from evalkit.records import ModelTraining, load_manifest, read_json
    from evalkit.runner import run_compare

    rec, out, models, _ = full_run
    run_dir = run_compare(["tiny-gpt2"], suite="smoke", results_dir=tmp_path / "results", models_file=models,
                          params={"max_new_tokens": 8, "batch_size": 5}, scorers=["repetition", "vocabulary"],
                          rate=False)
    m = load_manifest(run_dir).models[0]
    assert m.info.extra["weights"] == f"fine-tuned checkpoint {out}"
    assert isinstance(m.training, ModelTraining)  # the typed record, not a loose dict
    assert m.training.wall_time_s == rec.wall_time_s > 0 and m.training.identity == rec.identity
    assert m.training.path == str(out / "training_record.json")
    hours = read_json(run_dir / "summary.json")["measurements"]["tiny-gpt2"]["training_hours"]
    assert hours == pytest.approx(rec.wall_time_s / 3600)


@pytest.mark.slow
def test_rerun_is_a_no_op_and_other_settings_are_refused(full_run):
    rec, out, _, opts = full_run
    again = run_finetune(opts)
    assert again.already_done and again.record.identity == rec.identity
    other = FinetuneOptions(**{**opts.__dict__, "overrides": {**opts.overrides, "learning_rate": 1e-4}})
    with pytest.raises(EvalkitError, match="already holds a model trained from tiny-gpt2 with recipe full"):
        run_finetune(other)


@pytest.mark.slow
def test_overwrite_replaces_only_an_evalkit_training(tiny_gpt2_dir, suite_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text("{}")
    opts = FinetuneOptions(model=str(tiny_gpt2_dir), suite=str(suite_dir), recipe="full", output=out,
                           overrides={"max_steps": 1})
    with pytest.raises(EvalkitError, match="holds no evalkit training"):
        run_finetune(opts)
    with pytest.raises(EvalkitError, match=r"holds files evalkit did not write \(found: config.json\)"):
        run_finetune(FinetuneOptions(**{**opts.__dict__, "overwrite": True}))
    assert [p.name for p in out.iterdir()] == ["config.json"] and (out / "config.json").read_text() == "{}"
    (out / "config.json").unlink()
    first = run_finetune(opts).record
    again = FinetuneOptions(**{**opts.__dict__, "overrides": {"max_steps": 2}, "overwrite": True})
    rec = run_finetune(again).record  # evalkit's own training: replaced
    assert rec.identity != first.identity and rec.global_step == 2
    assert json.loads((out / "config.json").read_text())["model_type"] == "gpt2"


@pytest.mark.slow
def test_qlora_recipe_on_tiny_llama_in_nf4(tiny_llama_dir, suite_dir, tmp_path):
    from evalkit.models.base import Request
    from evalkit.models.hf import HFModel
    from evalkit.models.registry import resolve_model
    from evalkit.records import GenerationParams
    from evalkit.suites import load_suite

    out = tmp_path / "adapter"
    rec = run_finetune(FinetuneOptions(model=str(tiny_llama_dir), suite=str(suite_dir), recipe="qlora", output=out,
                                       overrides={"max_steps": 6, "learning_rate": 1e-2, "effective_batch_size": 2,
                                                  "eval_every": 6, "gradient_checkpointing": False})).record
    hp = rec.hyperparameters
    # the recipe's bf16 compute, or fp32 ("no" autocast) on a CPU without bf16 units
    from evalkit.models.hf_cpu import cpu_has_bf16

    assert (hp["quantization"], hp["precision"], rec.format) == ("nf4", "bf16" if cpu_has_bf16() else "no", "chat")
    assert hp["optimizer_used"] == "paged_adamw_8bit"
    import torch

    if not torch.cuda.is_available():
        assert "unpaged" in hp["optimizer_note"]  # paging is CUDA-only: the record says so
    assert hp["lora"]["r"] == 16 and rec.output_kind == "adapter"
    assert 0 < rec.base.trainable_parameters < rec.base.parameters
    losses = [h["loss"] for h in rec.loss_history]
    assert min(losses[-3:]) < losses[0] and rec.validation_loss < rec.initial_validation_loss
    names = {p.name for p in out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "training_record.json"} <= names
    assert not names & {"model.safetensors", "config.json", "checkpoints"}  # only the adapter is saved
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == str(tiny_llama_dir.resolve()) and cfg["r"] == 16
    # `compare` resolves the adapter folder to base + adapter and loads it in nf4
    spec = resolve_model(str(out), overrides={"quantization": "nf4"})
    model = HFModel(spec)
    assert model.training_record().identity == rec.identity
    suite = load_suite(suite_dir)
    gens = model.generate([Request.from_item(suite, suite.items[0])], GenerationParams(max_new_tokens=4))
    assert gens[0].completion_tokens and model.describe().adapter == str(out)


@pytest.mark.slow
def test_4bit_lora_gradients_survive_an_evaluation(tiny_llama_dir):
    """bitsandbytes repacks 4-bit weights for inference on AVX512-bf16 CPUs; training after an
    evaluation must still get the same gradients."""
    import torch

    from evalkit.finetune.basemodel import resolve_base
    from evalkit.finetune.loading import load_for_training
    from evalkit.recipes import load_recipe

    if torch.cuda.is_available():
        pytest.skip("the repacking happens in bitsandbytes' CPU backend only")
    recipe, _ = load_recipe("qlora", {"lora.dropout": 0.0, "gradient_checkpointing": False})
    model, _ = load_for_training(resolve_base(str(tiny_llama_dir)), recipe)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)  # nonzero B: gradients reach every layer's lora_A
    ids = torch.tensor([[0, 5, 9, 30, 41, 77, 120, 8]])

    def grads() -> list[torch.Tensor]:
        model.zero_grad()
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(input_ids=ids, labels=ids).loss.backward()
        return [p.grad.clone() for n, p in model.named_parameters() if p.requires_grad]

    before = grads()
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        model(input_ids=ids)
    after = grads()
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(before, after, strict=True))


@pytest.mark.slow
def test_resume_after_kill_continues_from_the_checkpoint(tiny_gpt2_dir, suite_dir, tmp_path):
    out = tmp_path / "out"
    args = ["finetune", str(tiny_gpt2_dir), "--recipe", "full", "--suite", str(suite_dir), "--output", str(out),
            "--max-steps", "40", "--eval-every", "2", "--batch-size", "1", "--set", "effective_batch_size=1",
            "--lr", "1e-4"]
    proc = subprocess.Popen([sys.executable, "-m", "evalkit.cli", *args], cwd=tmp_path, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = None
    deadline = time.time() + 240
    try:
        while seen is None and time.time() < deadline and proc.poll() is None:
            for state in (out / "checkpoints").glob("checkpoint-*/trainer_state.json"):
                try:
                    json.loads(state.read_text())
                except (OSError, ValueError):
                    continue  # still being written
                os.kill(proc.pid, signal.SIGSTOP)  # freeze it before it can finish
                seen = int(state.parent.name.split("-")[1])
                break
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert seen is not None, "no checkpoint appeared before the training ended"
    assert not (out / "training_record.json").exists()
    res = evalkit(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resumed at step" in res.stderr
    rec = json.loads((out / "training_record.json").read_text())
    assert rec["resumed_from_step"] >= seen > 0 and rec["global_step"] == 40
    # the steps before the checkpoint were not trained again, and their time is counted
    steps = [h["step"] for h in rec["loss_history"]]
    assert steps == sorted(set(steps)) and steps[-1] == 40
    assert rec["wall_time_s"] > rec["session_wall_s"] > 0


def test_bad_input_is_one_line_and_exit_2(tiny_gpt2_dir, tiny_llama_dir, suite_dir, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nmethod = "full"\nepochz = 2\nlearning_rat = 1e-4\n')
    shadow = tmp_path / "shadow" / "bitsandbytes"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("no bitsandbytes build for this machine")\n')
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a model")
    cases = [
        (["--recipe", str(bad), "--suite", str(suite_dir)], {}, "unknown key(s) epochz, learning_rat"),
        (["--recipe", "full", "--set", "lora.rank=4", "--suite", str(suite_dir)], {}, "unknown key(s) lora.rank"),
        (["--recipe", "full", "--suite", "smoke"], {}, "split 'train' of suite 'smoke' is empty"),
        (["--recipe", "full", "--suite", str(suite_dir), "--output", str(foreign)], {}, "holds no evalkit training"),
        (["--recipe", "qlora", "--suite", str(suite_dir)], {"PYTHONPATH": str(shadow.parent)},
         "needs a working bitsandbytes (ImportError: no bitsandbytes build for this machine)"),
        (["--recipe", "lora", "--suite", str(suite_dir), "--output", str(tmp_path / "x")], {},
         "puts LoRA on q_proj, k_proj, v_proj, o_proj, which this model does not have"),
    ]
    for extra, env, message in cases:
        model = tiny_llama_dir if "qlora" in extra else tiny_gpt2_dir
        res = evalkit("finetune", str(model), *extra, cwd=tmp_path, env_extra=env)
        assert res.returncode == 2, (extra, res.stderr[-1500:])
        lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and message in lines[0], (extra, res.stderr[-1500:])
        assert "Traceback" not in res.stderr
    assert (foreign / "notes.txt").is_file()  # refused, not touched
    assert not (tmp_path / "x").exists()  # a training that failed before its first checkpoint leaves nothing
