"""Stars, Overall Quality and honest winners from a run's stored records: numbers only (no scorer, no
model; evalkit.rating imports nothing from the scoring stage, an import-linter contract).

- rows.py: one rule per star row (metric, where its stars come from, its test, its label), read by the
  rating, both reports, the HTML story view, the leaderboard and the Judge preference row
- config.py: the star rules, rating.toml's defaults merged with a suite's [rating]
- stars.py: stars from numbers (anchors, cut points, half steps)
- anchor_levels.py: a quality row's 1- and 5-star levels and the references-vs-degenerate check
- winners.py: pairwise tests (evalkit.significance), Holm, ranking, the test in words
- table.py: the rows as a rating.json document (RatingInput -> dict)
- stored.py: ``rate_stored``: a run's stored records (StoredRun) -> Rating

Star rules (defaults in evalkit/rating/rating.toml, overridable per suite under [rating]):
- quality rows: the mean of each story's calibrated stars (``<metric>_stars`` from the scoring stage)
  where a calibration exists, else linear between the suite's anchors (degenerate text = 1 star, the
  suite's own reference stories = 5 stars), clipped to 1..5; no stars and no winner when the
  references do not beat their degenerate copies ("not informative on this suite");
- speed, memory, training time: fixed cut points, linear in log(value) between them;
- Overall Quality: per story, the weighted mean of the quality rows' (unrounded) stars.
Shown stars are rounded to half steps, an exact quarter rounding up (2.25 -> 2.5).
Winners: evalkit.significance's cluster bootstrap over suite items (samples averaged per item, seeded),
Holm over a row's pairs with 3+ models; a row has a winner only when one model beats every other,
otherwise "tie" with the smallest difference the run could have detected.
"""

from evalkit.rating.config import DEFAULTS_PATH, RatingConfig, load_rating_config
from evalkit.rating.rows import (
           CUT_ROWS,
           QUALITY_ROWS,
           ROW_RULES,
           ROWS,
           RULES,
           RowRule,
           deciding_figures,
           story_stars,
)
from evalkit.rating.stars import (
           anchor_problem,
           anchor_score,
           cut_score,
           round_half,
           stars,
)
from evalkit.rating.stored import StoredRun, rate_stored
from evalkit.rating.table import RatingInput, judge_row, overall_per_story, rate
from evalkit.rating.winners import (
           Comparison,
           compare_paired,
           compare_single,
           holm_row,
           rank,
)

__all__ = ["CUT_ROWS", "DEFAULTS_PATH", "QUALITY_ROWS", "ROWS", "ROW_RULES", "RULES", "Comparison", "RatingConfig",
           "RatingInput", "RowRule", "StoredRun", "anchor_problem", "anchor_score", "compare_paired", "compare_single",
           "cut_score", "deciding_figures", "holm_row", "judge_row", "load_rating_config", "overall_per_story", "rank",
           "rate", "rate_stored", "round_half", "stars", "story_stars"]
