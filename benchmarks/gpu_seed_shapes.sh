#!/usr/bin/env bash
# The seed's two models at their real shapes with random weights, on a CUDA machine, in under 8 minutes:
#   1. capacity of llama3-qlora (Llama 3 8B Instruct, nf4 + the qlora recipe's LoRA) and distilgpt2 at full
#      depth, full story budget (evalkit capacity; also `evalkit compare --random-weights` when
#      that flag exists);
#   2. the training projection of each with its seed recipe (evalkit finetune --random-weights);
#   3. one summary, beside the seed's claims.
# Nothing is downloaded: the configurations are shipped (evalkit/models/shapes/).
#
#   bash benchmarks/gpu_seed_shapes.sh [OUT_DIR]          # default OUT_DIR: results/gpu_seed_shapes
#
# Environment: PYTHON (default .venv/bin/python, else python3), STEPS (optimizer steps per projection,
# default 3), CAPACITY_ARGS / FINETUNE_ARGS (extra flags, e.g. CAPACITY_ARGS="--prefixes 1,2" and
# FINETUNE_ARGS="--max-length 64" with tiny shapes: the CPU path the tests use), MODELS (default
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

# 1. capacity at full depth (a GPU measures every layer and the whole story budget)
PREFIX_FLAG="--prefixes full"
case " $CAPACITY_ARGS " in *" --prefixes "*) PREFIX_FLAG="";; esac
# shellcheck disable=SC2086
step capacity "$PY" -m evalkit.cli capacity $MODELS $PREFIX_FLAG --out-dir "$OUT/capacity" $CAPACITY_ARGS

# 1b. the same through compare, once compare has --random-weights (the star table's three rows)
if "$PY" -m evalkit.cli compare --help 2>/dev/null | grep -q -- "--random-weights"; then
  # shellcheck disable=SC2086
  step compare "$PY" -m evalkit.cli compare $MODELS --random-weights --results-dir "$OUT/runs"
fi

# 2. training projections with each model's seed recipe (qlora for llama3-qlora, full for distilgpt2)
FT_PREFIX="--prefixes full"
case " $FINETUNE_ARGS " in *" --prefixes "*) FT_PREFIX="";; esac
for m in $MODELS; do
  # shellcheck disable=SC2086
  step "finetune-$(basename "$m")" "$PY" -m evalkit.cli finetune "$m" --random-weights --max-steps "$STEPS" $FT_PREFIX \
    --output "$OUT/finetune/$(basename "$m")" $FINETUNE_ARGS
done

# 3. one summary beside the seed's claims
"$PY" - "$OUT" <<'EOF' | tee "$OUT/summary.txt"
import json, os, sys
from pathlib import Path

out = Path(sys.argv[1])
claims = {"llama3-qlora": ("3-5 s per story", "6-8 GB VRAM", "2-4 h (notebook)"),
          "distilgpt2": ("< 1 s per story", "2-3 GB VRAM", "1-2 h on GPU")}
print(f"seed shapes with random weights, load average {os.getloadavg()[0]:.2f}")
for rec_path in sorted((out / "capacity").glob("*.json")):
    r = json.loads(rec_path.read_text())
    m = r["label"]
    mem = r["memory"]
    peak = (mem["peak_added_bytes"] if mem["how"] == "measured" else mem["bytes_in_memory"]) or 0
    sps = r["seconds_per_story"]
    claim = claims.get(m, ("-", "-", "-"))
    print(f"\n{m} on {r['device']} ({r['basis']})")
    print(f"  parameters        {r['parameters'] / 1e9:.3f}B (+{r['adapter_parameters'] / 1e6:.1f}M adapter)")
    print(f"  seconds/story     {sps['value']:.2f} s at batch {r['batch_size']} ({sps['basis']}); "
          f"{r['seconds_per_story_b1']['value']:.2f} s at batch 1   | seed: {claim[0]}")
    print(f"  tokens/s          {r['tokens_per_s']['value']:.1f} at batch 1, {r['tokens_per_s_batch']['value']:.1f} at batch {r['batch_size']}; "
          f"first token {r['ttft_s']['value']:.3f} s")
    print(f"  peak memory       {peak / 1e9:.2f} GB ({mem['peak']['kind'] if mem['peak'] else mem['how']}); "
          f"model {mem['bytes_in_memory'] / 1e9:.2f} GB   | seed: {claim[1]}")
    print(f"  build time        {r['load_s']['value']:.1f} s ({r['load_s']['basis']})")
    proj = out / "finetune" / m / "training_projection.json"
    if proj.is_file():
        p = json.loads(proj.read_text())["projection"]
        print(f"  training          {p['projected_hours']:.2f} h for {p['train_examples']} stories x {p['epochs']:g} epochs, "
              f"{p['epoch_s']['value'] / 60:.1f} min/epoch ({p['basis']})   | seed: {claim[2]}")
    else:
        print(f"  training          (no projection: see {out}/finetune-{m}.log)")
EOF
echo "total $(( $(date +%s) - START )) s; records under $OUT"
exit $FAILED
