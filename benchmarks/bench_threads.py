"""Which thread settings keep decoding fast beside another PyTorch process (issue 25): threads 1 vs 2 and
OpenMP's wait policy (PASSIVE vs the default spin-then-sleep), each quiet and beside the competing
2-thread PyTorch matmul loop (benchmarks/competing_load.py), started and stopped here.

    .venv/bin/python -u benchmarks/bench_threads.py [--model smollm2-135m] [--tokens 64] [--rounds 2]

Each setting decodes in a fresh process (OpenMP reads its wait policy when it loads): the model loads,
one warm-up generate, then --rounds greedy generates of exactly --tokens new tokens at batch 1; the
figure is the median tokens/s. Settings alternate within each round so a load spike hits them alike.
The load average is printed before and after: absolute figures on a loaded machine are low.

--genre-fit: instead, the genre classifier's fit on persona-tales (the cold first run's biggest scoring
cost) under evalkit's thread policy with NumPy/SciPy's BLAS at 1 thread (the policy) and at --blas-max
threads, each in a fresh process, quiet only: wall and CPU seconds of each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from competing_load import competing_pytorch  # noqa: E402

DECODE = """
import json, os, sys, time
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from evalkit.models.registry import resolve_model
model_name, tokens, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.set_num_interop_threads(1)
spec = resolve_model(model_name)
from evalkit.models.hf import HFModel
hf = HFModel(spec); hf.load()
tok, model = hf.tokenizer, hf.model
enc = tok(["Once upon a time, a small fox"], return_tensors="pt")
def run():
    t = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id or tok.eos_token_id)
    return tokens / (time.perf_counter() - t)
run()
print(json.dumps({"tok_s": run(), "threads": torch.get_num_threads()}), flush=True)
"""


GENRE_FIT = """
import os, sys, time
from evalkit.threads import configure
configure(int(sys.argv[1]))
os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[2]  # read when NumPy's OpenBLAS loads, just below
import numpy
from threadpoolctl import threadpool_info
assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} == {int(sys.argv[2])}
from evalkit.scorers import _genre_eval as ge, genre_classifier as gc
from evalkit.scorers.base import ScoringContext
from evalkit.suites import load_suite
suite = load_suite("persona-tales")
genres = dict(sorted(suite.genres.items()))
stories = gc.training_stories(genres, suite.items, group=suite.name)
t, c = time.perf_counter(), time.process_time()
ge.fit_genre_model(stories, genres, ScoringContext(suite=suite))
print(time.perf_counter() - t, time.process_time() - c)
"""


def genre_fit(threads: int, blas: int) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", GENRE_FIT, str(threads), str(blas)], capture_output=True, text=True,
                         check=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    wall, cpu = out.stdout.split()[-2:]
    return float(wall), float(cpu)


def decode(model: str, tokens: int, threads: int, wait: str | None) -> float:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.pop("OMP_WAIT_POLICY", None)
    if wait:
        env["OMP_WAIT_POLICY"] = wait
    out = subprocess.run([sys.executable, "-c", DECODE, model, str(tokens), str(threads)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["tok_s"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--genre-fit", action="store_true", help="time the genre fit with BLAS at 1 and --blas-max threads")
    ap.add_argument("--blas-max", type=int, default=2)
    a = ap.parse_args()
    if a.genre_fit:
        print("load before:", os.popen("uptime").read().strip(), flush=True)
        for r in range(a.rounds):
            for blas in (1, a.blas_max):
                wall, cpu = genre_fit(a.blas_max, blas)
                print(f"round {r} genre fit, BLAS threads {blas}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
        print("load after:", os.popen("uptime").read().strip())
        return
    settings = [(t, w) for t in (1, 2) for w in ("PASSIVE", None)]
    res: dict[tuple, list[float]] = {}
    print("load before:", os.popen("uptime").read().strip(), flush=True)
    for r in range(a.rounds):
        for contended in (False, True):
            ctx = competing_pytorch() if contended else _nothing()
            with ctx:
                for t, w in settings:
                    tps = decode(a.model, a.tokens, t, w)
                    res.setdefault((contended, t, w), []).append(tps)
                    print(f"round {r} {'contended' if contended else 'quiet':9s} threads {t} wait {w or 'default':8s}"
                          f" {tps:6.1f} tok/s", flush=True)
    print("load after:", os.popen("uptime").read().strip())
    print(f"\n{'setting':<36}{'median tok/s':>13}")
    for (c, t, w), v in res.items():
        label = f"{'contended' if c else 'quiet'}, threads {t}, wait {w or 'default'}"
        print(f"{label:<36}{statistics.median(v):>13.1f}")


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
