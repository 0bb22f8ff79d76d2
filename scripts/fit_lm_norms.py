"""HANNA norms of the coherence scorer's LM parts for another scoring LM (evalkit/scorers/coherence_lm_norms.json).

For a reader you choose (``--scoring-lm``), use ``evalkit validate RATINGS.csv --fit --scoring-lm MODEL``
instead: it stores the reader's norms together with its own star calibration and their cross-validated
error as a calibration profile (evalkit.profiles). This script keeps the norms of the LM a run falls back
to when a candidate is built on SmolLM2 (the first of lm.alternatives, Gemma 3 270M), which has no profile.

Coherence standardizes each part against HANNA's machine stories (coherence.PARTS: mean, sd) before the
weighted mix. Two parts are the scoring LM's numbers (fluency: mean token log-likelihood; order: nats per
sentence lost to a shuffle), so their scale is the LM's: Gemma 3 270M reads the same story with another
log-likelihood than SmolLM2. When a run's candidates are SmolLM2 and Gemma scores coherence instead, its
parts must be standardized with Gemma's own mean and sd on the same stories, or every story moves on the
star scale. This script measures them. It uses no ratings (a mean and a sd of unlabelled texts), so it
fits nothing to what people said.

    python scripts/fit_lm_norms.py ../shared/validation/hanna_dev.csv [--lm PATH] [--cache-dir DIR]

--lm: the LM (a .gguf file or transformers folder); default the first alternative scoring LM (Gemma 3
270M from its PyPI package). The default LM (SmolLM2) is measured too, from the same stories, as a check
from the same stories: PARTS came from an earlier measurement of those stories, so the stored norms are
the ones that give the other LM's z exactly the distribution SmolLM2's z has under PARTS on these
stories (a linear map of means and sds; the raw measurements are stored beside them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def agreement(ratings, scores, criterion: str = "Coherence") -> dict[str, float]:
    """Kendall tau of coherence with people's ratings over the machine stories, as `evalkit validate`
    computes it (evalkit.validate.stats.agreement): pooled and system level."""
    from evalkit.validate.stats import agreement as measured

    machine = (ratings.frame["system"] != ratings.human_system).to_numpy()
    f = ratings.frame[machine]
    a = measured(scores["coherence"].to_numpy(dtype=float)[machine], f[criterion].to_numpy(dtype=float),
                 f["system"].to_numpy(), f["group"].to_numpy(), boot=10)
    return {"pooled_tau": a.pooled_tau.value, "system_tau": a.system_tau.value}


def part_norms(ratings, lm_opts: dict, cache_dir: Path | None):
    import numpy as np

    from evalkit.scorers.base import ScoringContext
    from evalkit.scorers.coherence import LM_PARTS, CoherenceScorer
    from evalkit.validate.pipeline import score_ratings

    scores = score_ratings(ratings, [CoherenceScorer()], ScoringContext(options={"lm": lm_opts}), cache_dir)
    machine = (ratings.frame["system"] != ratings.human_system).to_numpy()
    out = {}
    for part in LM_PARTS:
        x = scores[part].to_numpy(dtype=float)[machine]
        out[part] = [float(np.nanmean(x)), float(np.nanstd(x))]  # as evalkit.validate.crossval standardizes
    return out, int(machine.sum()), scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ratings", type=Path)
    ap.add_argument("--lm", help="the scoring LM to measure (default: the first alternative, Gemma 3 270M)")
    ap.add_argument("--cache-dir", type=Path, default=REPO / "results/.cache/scores")
    args = ap.parse_args()

    from evalkit.scorers.coherence import LM_NORMS_FILE, PARTS
    from evalkit.scorers.lm import ALTERNATIVES, _resolve_lm, weights_fingerprint
    from evalkit.validate.ratings import load_ratings

    ratings = load_ratings(args.ratings)
    lm_path = Path(args.lm).expanduser().resolve() if args.lm else _resolve_lm(ALTERNATIVES[0])
    default, n, default_scores = part_norms(ratings, {}, args.cache_dir)
    for part, (mu, sd) in default.items():
        print(f"SmolLM2 {part}: mean {mu:.4f} sd {sd:.4f} (coherence.PARTS: {PARTS[part][1]:.4f}, {PARTS[part][2]:.4f})")
    norms, n, _ = part_norms(ratings, {"path": str(lm_path)}, args.cache_dir)
    for part, (mu, sd) in norms.items():
        print(f"{lm_path.name} {part}: mean {mu:.4f} sd {sd:.4f}")
    # z_other = (v - mu) / sd must match z_smollm2 = (v_s - PARTS mu) / PARTS sd in mean and sd on these stories
    effective = {}
    for part, (mu_o, sd_o) in norms.items():
        mu_s, sd_s = default[part]
        _, mu_p, sd_p = PARTS[part]
        effective[part] = [mu_o - sd_o * (mu_s - mu_p) / sd_s, sd_o * sd_p / sd_s]
        print(f"{lm_path.name} {part}: stored norms mean {effective[part][0]:.4f} sd {effective[part][1]:.4f}")
    table = json.loads(LM_NORMS_FILE.read_text(encoding="utf-8")) if LM_NORMS_FILE.is_file() else {}
    table[weights_fingerprint(lm_path)] = {
        "name": lm_path.name, "data": f"{args.ratings.name}: {n} machine stories", "parts": effective,
        "measured": norms, "smollm2_measured": default,
    }
    LM_NORMS_FILE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    # with the norms in place: coherence read by each LM against people's Coherence (weights fitted on
    # this file with SmolLM2: in-sample for both)
    _, _, other_scores = part_norms(ratings, {"path": str(lm_path)}, args.cache_dir)
    for name, sc in (("SmolLM2", default_scores), (lm_path.name, other_scores)):
        a = agreement(ratings, sc)
        print(f"{name}: coherence vs people's Coherence, pooled tau {a['pooled_tau']:+.3f}, system tau "
              f"{a['system_tau']:+.3f} (in-sample weights)")
    print(f"wrote {LM_NORMS_FILE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
