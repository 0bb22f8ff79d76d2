"""Load time, memory, disk and prefill speed of the strong reader (preset qwen2.5-coder-1.5b) on this CPU.

    nice -n 19 .venv/bin/python -u benchmarks/bench_strong_reader.py [--direct] [--remake-copy] [--tokens 200] [--rounds 5]

Each step runs in its own process, so its peak RSS is its own:
- copy: the joined GGUF's dequantized transformers copy (evalkit.models.gguf.dequantized_folder: bf16 for a
  GGUF this large): seconds to make it (skipped when it exists) and bytes on disk; an fp32 copy's size is
  the parameter count x 4.
- direct (--direct): transformers' own ``from_pretrained(gguf_file=..., dtype=bfloat16)`` on every load,
  without a copy: seconds, peak RSS, and the dtype the weights are kept in.
- load DTYPE (float32, bfloat16): the scoring LM (ScoringLM) from the copy in DTYPE: load seconds, RSS
  after load, and prefill tokens/s on one TOKENS-token story (median of ROUNDS, after a warm-up).
Prints the load average with each figure (on a loaded machine only the ratios mean anything) and writes
benchmarks/results/strong_reader.json. --docs writes the figures (with those of
`bench_roc.py --lm qwen2.5-coder-1.5b --out benchmarks/results/strong_reader_roc.json`) into the table of
docs/models-and-backends.md between its strong-reader markers, without measuring.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
PRESET = "qwen2.5-coder-1.5b"
OUT = ROOT / "benchmarks" / "results" / "strong_reader.json"
ROC = ROOT / "benchmarks" / "results" / "strong_reader_roc.json"
DOC = ROOT / "docs" / "models-and-backends.md"
BEGIN = "<!-- strong-reader: written by benchmarks/bench_strong_reader.py --docs; do not edit by hand -->"
END = "<!-- /strong-reader -->"
STORY = ("Once upon a time, a little fox named Pip lived at the edge of a quiet forest. Every morning she "
         "walked to the river to watch the fish jump. One day she found a small blue boat stuck in the reeds. "
         "Pip pulled and pulled until the boat came free. Inside it was a sleepy frog who had lost his way "
         "home. ")


def gguf_path() -> Path:
    from evalkit.models.hf import HFModel
    from evalkit.models.registry import resolve_model

    return Path(HFModel(resolve_model(PRESET)).resolved()["gguf"])


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


def rss_gb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e9


def step_copy(remake: bool) -> dict:
    import shutil

    from evalkit.models.gguf import copy_dtype, dequantized_folder, dequantized_location

    gguf = gguf_path()
    if remake:
        shutil.rmtree(dequantized_location(gguf), ignore_errors=True)
    existed = dequantized_location(gguf).is_dir()
    t = time.perf_counter()
    folder = dequantized_folder(gguf)
    made = None if existed else round(time.perf_counter() - t, 1)
    disk = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    return {"copy_dtype": copy_dtype(gguf), "copy_seconds": made, "copy_peak_rss_gb": None if existed else round(peak_rss_gb(), 2),
            "copy_disk_gb": round(disk / 1e9, 2), "gguf_gb": round(gguf.stat().st_size / 1e9, 2)}


def step_direct() -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    gguf = gguf_path()
    t = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16)
    dt = time.perf_counter() - t
    n = sum(p.numel() for p in model.parameters())
    return {"direct_seconds": round(dt, 1), "direct_peak_rss_gb": round(peak_rss_gb(), 2), "direct_rss_gb": round(rss_gb(), 2),
            "direct_dtypes": sorted({str(p.dtype) for p in model.parameters()}), "parameters": n,
            "fp32_copy_gb": round(n * 4 / 1e9, 2)}


def step_load(dtype: str, tokens: int, rounds: int) -> dict:
    import statistics

    from evalkit.models.gguf import dequantized_folder
    from evalkit.scorers.lm import ScoringLM

    folder = dequantized_folder(gguf_path())
    t = time.perf_counter()
    lm = ScoringLM(device="cpu", dtype=dtype, path=str(folder), max_tokens=tokens)
    load = time.perf_counter() - t
    rss = rss_gb()
    text = STORY * (1 + tokens // 60)
    n = len(lm.token_ids(text))
    assert n == tokens, n
    lm.logprobs([text])  # warm-up
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        lm.logprobs([text])
        times.append(time.perf_counter() - t)
    # bf16 weights are memory-mapped from the copy until read: the peak after the prefill is what they hold
    return {f"load_{dtype}_seconds": round(load, 1), f"load_{dtype}_rss_gb": round(rss, 2),
            f"load_{dtype}_peak_rss_gb": round(peak_rss_gb(), 2), f"prefill_{dtype}_tok_s": round(n / statistics.median(times), 1)}


def run_step(*args: str) -> dict:
    res = subprocess.run([sys.executable, "-u", __file__, "--step", *args], capture_output=True, text=True)
    if res.returncode:
        sys.exit(f"step {args} failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def docs_table() -> str:
    r = json.loads(OUT.read_text())
    la = lambda key: "{:.2f} → {:.2f}".format(*r[key])  # noqa: E731 - load average before → after
    rows = [
        ("the joined GGUF (Q4_K_M)", f"{r['gguf_gb']} GB on disk", ""),
        (f"its dequantized copy ({r['copy_dtype']}, made once)",
         f"{r['copy_disk_gb']} GB on disk" + (f", {r['copy_seconds']} s, peak RSS {r['copy_peak_rss_gb']} GB"
                                              if r.get("copy_seconds") else ""), la("copy_load_average")),
    ]
    if "direct_seconds" in r:
        rows += [("an fp32 copy instead", f"{r['fp32_copy_gb']} GB ({r['parameters']:,} parameters x 4 bytes)", ""),
                 ("transformers `from_pretrained(gguf_file=…, dtype=bfloat16)`, no copy",
                  f"{r['direct_seconds']} s every load, peak RSS {r['direct_peak_rss_gb']} GB, weights kept in "
                  f"{', '.join(d.replace('torch.', '') for d in r['direct_dtypes'])}", la("direct_load_average"))]
    for dt in ("float32", "bfloat16"):
        peak = f", peak {r[f'load_{dt}_peak_rss_gb']} GB after the prefill" if f"load_{dt}_peak_rss_gb" in r else ""
        rows.append((f"load from the copy, {dt} in memory", f"{r[f'load_{dt}_seconds']} s, RSS {r[f'load_{dt}_rss_gb']} GB{peak}; "
                     f"prefill {r[f'prefill_{dt}_tok_s']} tokens/s ({r['tokens']} tokens, median of {r['rounds']})",
                     la(f"load_{dt}_load_average")))
    if ROC.is_file():
        roc = json.loads(ROC.read_text())
        acc = roc["accuracy"]["coherence_order"]
        rows.append((f"roc_val log-prob shuffle test, first {roc['pairs']} pairs ({roc['dtype'].replace('torch.', '')})",
                     f"{acc['accuracy']:.1%} (95% CI {acc['lo']:.1%}–{acc['hi']:.1%}); {2 * roc['pairs']} stories "
                     f"scored by coherence in {roc['seconds']} s", "{:.2f} → {:.2f}".format(*roc["load_average"])))
    lines = [BEGIN, "", f"CPU with bf16 units: {'yes' if r['cpu_bf16_units'] else 'no'}.", "",
             "| | measured | load average |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines + ["", END])


def write_docs() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    DOC.write_text(text[:start] + docs_table() + text[end:], encoding="utf-8")
    print(f"written {DOC}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--direct", action="store_true", help="also time transformers' own GGUF load (~1 min, ~6 GB)")
    ap.add_argument("--remake-copy", action="store_true", help="delete the dequantized copy first, to time making it")
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--docs", action="store_true", help="only write the measured figures into the docs table")
    ap.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.docs:
        write_docs()
        return
    if a.step:
        name = a.step[0]
        out = (step_copy(len(a.step) > 1) if name == "copy" else step_direct() if name == "direct"
               else step_load(a.step[1], a.tokens, a.rounds))
        print(json.dumps(out))
        return
    from evalkit.models.hf_cpu import cpu_has_bf16

    results: dict = {"cpu_bf16_units": cpu_has_bf16(), "tokens": a.tokens, "rounds": a.rounds}
    previous = json.loads(OUT.read_text()) if OUT.is_file() else {}
    steps = [("copy", "remake") if a.remake_copy else ("copy",)] + ([("direct",)] if a.direct else []) + [("load", "float32"), ("load", "bfloat16")]
    for step in steps:
        before = os.getloadavg()[0]
        r = run_step(*step, "--tokens", str(a.tokens), "--rounds", str(a.rounds)) if step[0] == "load" else run_step(*step)
        r[f"{'_'.join(step[:1] if step[0] == 'copy' else step)}_load_average"] = [round(before, 2), round(os.getloadavg()[0], 2)]
        if step[0] == "copy" and r["copy_seconds"] is None and previous.get("copy_seconds"):
            # the copy existed: keep the figures of the run that made it
            r.update({k: previous[k] for k in ("copy_seconds", "copy_peak_rss_gb", "copy_load_average")})
        print(" ".join(step), r, flush=True)
        results.update(r)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
