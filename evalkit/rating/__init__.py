"""Stars, Overall Quality and honest winners: pure functions over numbers, then ``rate_stored`` (at the
end) that turns a run's stored records (scores, summary, the anchors scored in the scoring stage) into
rating.json. Nothing here scores text or loads a model.

Star rules (defaults in evalkit/rating/rating.toml, overridable per suite under [rating]):
- quality rows: the mean of each story's calibrated stars (``<metric>_stars`` from the scoring stage)
  where a calibration exists, else linear between the suite's anchors (degenerate text = 1 star, the
  suite's own reference stories = 5 stars), clipped to 1..5; no stars and no winner when the
  references do not beat their degenerate copies ("not informative on this suite");
- speed, memory, training time: fixed cut points, linear in log(value) between them;
- Overall Quality: per story, the weighted mean of the quality rows' (unrounded) stars.
Shown stars are rounded to half steps, an exact quarter rounding up (2.25 -> 2.5).
Winners: evalkit.significance's cluster bootstrap over suite items (samples averaged per item, seeded), Holm
over a row's pairs with 3+ models; a row has a winner only when one model beats every other,
otherwise "tie" with the smallest difference the run could have detected.
"""

from evalkit.rating.config import CUT_ROWS, DEFAULTS_PATH, QUALITY_ROWS, ROWS, RatingConfig, load_rating_config
from evalkit.rating.stars import anchor_problem, anchor_score, cut_score, round_half, stars
from evalkit.rating.stored import rate_stored
from evalkit.rating.table import RatingInput, overall_per_story, rate
from evalkit.rating.winners import Comparison, compare_paired, compare_single, holm_row, rank
from evalkit.records import RATING_SCHEMA

__all__ = ["CUT_ROWS", "DEFAULTS_PATH", "QUALITY_ROWS", "RATING_SCHEMA", "ROWS", "Comparison", "RatingConfig",
           "RatingInput", "anchor_problem", "anchor_score", "compare_paired", "compare_single", "holm_row", "cut_score",
           "load_rating_config", "overall_per_story", "rank", "rate", "rate_stored", "round_half", "stars"]
