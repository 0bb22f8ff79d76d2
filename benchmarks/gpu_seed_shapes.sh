#!/usr/bin/env bash
# The seed's two models at their real shapes with random weights, on a CUDA machine, in under 8 minutes:
#   1. the training projection of each with its seed recipe (evalkit finetune --random-weights);
#   2. `evalkit compare llama3-qlora distilgpt2 --random-weights`: llama3-qlora (Llama 3 8B Instruct, nf4 + the
#      qlora recipe's LoRA) and distilgpt2 measured at full depth and the full story budget, rated (Training
#      Time from step 1, Inference Speed, Memory Efficiency) with the report's Capacity section;
#   3. one summary, beside the seed's claims (evalkit/report/seed_claims.toml; the run's report.md has them all).
# Nothing is downloaded: the configurations are shipped (evalkit/models/shapes/).
#
#   bash benchmarks/gpu_seed_shapes.sh [OUT_DIR]          # default OUT_DIR: results/gpu_seed_shapes
#
# Environment: PYTHON (default .venv/bin/python, else python3), STEPS (optimizer steps per projection,
# default 3), CAPACITY_ARGS / FINETUNE_ARGS (extra flags of `evalkit compare` and of `evalkit finetune`, e.g.
# CAPACITY_ARGS="--max-new-tokens 4" and FINETUNE_ARGS="--max-length 64" with tiny shapes: the CPU path the tests use), MODELS (default
# "llama3-qlora distilgpt2"), BUDGET_S (default 480: each step gets what is left, the script says when a
# step ran out). Exit code: 0 when every step finished, 1 otherwise (the summary still prints).
set -uo pipefail

OUT=${1:-results/gpu_seed_shapes}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
STEPS=${STEPS:-3}
MODELS=${MODELS:-"llama3-qlora distilgpt2"}
BUDGET_S=${BUDGET_S:-480}
CAPACITY_ARGS=${CAPACITY_ARGS:-}
FINETUNE_ARGS=${FINETUNE_ARGS:-}
export HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
START=$(date +%s)
FAILED=0

left() { echo $(( BUDGET_S - ($(date +%s) - START) )); }

step() {  # step NAME CMD...: run with what is left of the budget, log to $OUT/NAME.log
  local name=$1; shift
  local t=$(left)
  if [ "$t" -le 10 ]; then echo "== $name: skipped, the ${BUDGET_S} s budget is spent" | tee -a "$OUT/summary.txt"; FAILED=1; return; fi
  echo "== $name ($t s left): $*"
  local t0=$(date +%s)
  timeout "$t" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "   rc=$rc in $(( $(date +%s) - t0 )) s (log: $OUT/$name.log)"
  [ $rc -eq 0 ] || { FAILED=1; tail -5 "$OUT/$name.log"; [ $rc -eq 124 ] && echo "   (ran out of time)"; }
}

"$PY" - <<'EOF' | tee "$OUT/machine.txt"
import os, torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "(no GPU: the CPU path runs)",
      "load average", os.getloadavg()[0])
EOF

# 1. training projections with each model's seed recipe (qlora for llama3-qlora, full for distilgpt2), written
#    where compare reads them: <results>/capacity/<model>/training_projection.json
FT_PREFIX="--prefixes full"
case " $FINETUNE_ARGS " in *" --prefixes "*) FT_PREFIX="";; esac
for m in $MODELS; do
  # shellcheck disable=SC2086
  step "finetune-$(basename "$m")" "$PY" -m evalkit.cli finetune "$m" --random-weights --max-steps "$STEPS" $FT_PREFIX \
    --output "$OUT/runs/capacity/$(basename "$m")" $FINETUNE_ARGS
done

# 2. the star table's three rows and the Capacity section: compare with random weights (a GPU measures every
#    layer and the whole story budget; each model in its own process)
# shellcheck disable=SC2086
step compare "$PY" -m evalkit.cli compare $MODELS --random-weights --results-dir "$OUT/runs" $CAPACITY_ARGS

# 3. one summary beside the seed's claims
"$PY" - "$OUT" <<'EOF' | tee "$OUT/summary.txt"
import json, os, sys
from pathlib import Path

from evalkit.report.capacity import load_claims

out = Path(sys.argv[1])
print(f"seed shapes with random weights, load average {os.getloadavg()[0]:.2f}")
runs = sorted(p for p in (out / "runs").glob("*/capacity.json"))
if not runs:
    print(f"(no compare run: see {out}/compare.log)")
    sys.exit(0)
cap = json.loads(runs[-1].read_text())
for m, r in cap["models"].items():
    mem = r["memory"]
    peak = (mem["peak_added_bytes"] if mem["how"] == "measured" else mem["bytes_in_memory"]) or 0
    sps = r["seconds_per_story"]
    said = {c.figure: c.claim for c in load_claims().claims if m in c.models or r["source"] in c.sources}
    claim = [said.get(f, "-") for f in ("seconds_per_story", "peak_memory_gb", "training_hours")]
    print(f"\n{m} on {r['device']} ({r['basis']})")
    print(f"  parameters        {r['parameters'] / 1e9:.3f}B (+{r['adapter_parameters'] / 1e6:.1f}M adapter)")
    print(f"  seconds/story     {sps['value']:.2f} s at batch {r['batch_size']} ({sps['basis']}); "
          f"{r['seconds_per_story_b1']['value']:.2f} s at batch 1   | seed: {claim[0]}")
    print(f"  tokens/s          {r['tokens_per_s']['value']:.1f} at batch 1, {r['tokens_per_s_batch']['value']:.1f} at batch {r['batch_size']}; "
          f"first token {r['ttft_s']['value']:.3f} s")
    print(f"  peak memory       {peak / 1e9:.2f} GB ({mem['peak']['kind'] if mem['peak'] else mem['how']}); "
          f"model {mem['bytes_in_memory'] / 1e9:.2f} GB   | seed: {claim[1]}")
    print(f"  build time        {r['load_s']['value']:.1f} s ({r['load_s']['basis']})")
    t = cap["training"].get(m)
    if t:
        p = t["projection"]
        print(f"  training          {p['projected_hours']:.2f} h for {p['train_examples']} stories x {p['epochs']:g} epochs, "
              f"{p['epoch_s']['value'] / 60:.1f} min/epoch ({p['basis']})   | seed: {claim[2]}")
    else:
        print(f"  training          (no projection: {cap['training_searched'].get(m, '?')})")
print(f"\nstar table and Capacity section: {runs[-1].parent / 'report.md'}")
EOF
echo "total $(( $(date +%s) - START )) s; records under $OUT"
exit $FAILED
