"""The words and cells the run report's renderers (markdown, html, console) share, read from the typed
rating (records.Rating) and its row rules (evalkit.rating.rows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalkit.calibration import GENRE_SOURCE, genre_formula
from evalkit.rating.rows import ANCHORS, JUDGE, QUALITY, RANDOM_WEIGHTS, deciding_figures, story_stars
from evalkit.rating.stars import round_half
from evalkit.records import Rating, RatingCell, RatingComparison, RatingRow
from evalkit.report.data import ReportData
from evalkit.report.format import fmt, fmt_ci, fmt_signed, stars_text


def not_informative(row: RatingRow) -> bool:
    """A quality row whose suite references do not beat their degenerate copies: no stars, no winner."""
    return row.check is not None and not row.check.informative


def winner_text(row: RatingRow) -> str:
    """The winner cell. A winner whose cell shows the same stars as every other cell gets the figures
    its test compared (rows.deciding_figures): '1.50 vs 7.00 GB'."""
    w = row.winner
    if not_informative(row):
        return "not informative on this suite"
    if w is None:
        return "n/a"
    if w == "tie":
        leaders, models = row.leaders, list(row.models)
        return "tie" if len(models) <= 2 or not leaders or len(leaders) == len(models) else "tie: " + ", ".join(leaders)
    figures = deciding_figures(row)
    if figures is None:
        return str(w)
    mine, other, unit = figures
    return f"{w} ({fmt(mine)} vs {fmt(other)}{unit})"


def value_text(cell: RatingCell | None) -> str:
    """mean [CI] or a single value, or n/a; a random-weights figure with its error and how it was obtained."""
    if cell is None or cell.value is None:
        return "n/a"
    if cell.basis:
        err = f" ± {fmt(cell.error)}" if cell.error is not None else ""
        return f"{fmt(cell.value)}{err} ({cell.basis})"
    return f"{fmt(cell.value)} {fmt_ci(cell.ci_low, cell.ci_high)}".rstrip()


def comparison_text(c: RatingComparison) -> str:
    """'+0.12 [0.05, 0.20]' for a paired test; '+1.2 (single values)' for a margin comparison."""
    if c.ci_low is None:
        return f"{fmt_signed(c.diff)} (one value each)"
    return f"{fmt_signed(c.diff)}{c.unit or ''} {fmt_ci(c.ci_low, c.ci_high)}"


def method_text(row: RatingRow, rating: Rating) -> str:
    """How the row's winner was decided, in words (never claims a test that was not run)."""
    comps = row.comparisons
    if not_informative(row):
        return str(row.check.reason or "not informative on this suite")  # type: ignore[union-attr]
    if row.test:
        return str(row.test)
    if not comps:
        return "not compared"
    if all(c.ci_low is None for c in comps):  # single measurements: a margin, not a test
        tol = rating.rules.get("single_measurement_tolerance")
        return "one value per model: winner only if lower by more than " + (f"{tol:.0%}" if tol is not None else "the margin")
    n = min(c.n or 0 for c in comps)
    return f"paired bootstrap over {n} stories"


def provenance(data: ReportData) -> str:
    """The line that says which weights, device and suite produced the table."""
    r = data.rating
    rules = r.rules
    holm = ", Holm-corrected over each row's pairs" if len(r.models) > 2 else ""
    samples = int(r.samples or 1)
    boot = (f"cluster bootstrap over suite items ({samples} stor{'ies' if samples != 1 else 'y'} per item and model, "
            f"averaged inside the item), {rules.get('bootstrap_resamples', 10000):,} resamples "
            f"(seed {rules.get('bootstrap_seed', '?')}), {rules.get('confidence', 0.95):.0%}{holm}")
    m = data.manifest
    return (f"Weights (Overall Quality): {weights_text(r)} · Device: {r.device or 'unknown'} · "
            f"Suite: {r.suite} (split {r.split}, {len(m.suite.item_ids)} stories, hash {m.suite.hash}) · "
            f"Run: {data.run_id} (evalkit {m.evalkit_version}) · Winners: {boot}" + scoring_lm_text(m))


def scoring_lm_text(manifest: Any) -> str:
    """Which LM scored coherence, and the warning when a candidate was graded by its own model."""
    info = getattr(manifest, "scoring_lm", None)
    if info is None:
        return ""
    profile = f", {info.profile_summary}" if getattr(info, "profile_summary", None) else ""
    return f" · Coherence LM: {info.name}{profile}" + (f" · WARNING: {info.warning}" if info.warning else "")


def weights_text(rating: Rating) -> str:
    """Overall Quality's weights, normalised, with the rows that had no stars marked as left out."""
    weights = {k: v for k, v in rating.weights.items() if isinstance(v, (int, float))}
    rated = {r.row for r in rating.rows if any(c.stars is not None for c in r.models.values())}
    total = sum(v for k, v in weights.items() if k in rated) or 1.0
    return ", ".join(f"{k} {v / total:.2f}" if k in rated else f"{k} (n/a, left out)" for k, v in weights.items()) or "none"


def cut_rows(rating: Rating) -> list[tuple[str, str, list[float]]]:
    """(row, measurement, cut points for 5..1 stars) for the log-scale rows, from the stored rules."""
    cuts = rating.rules.get("cuts") or {}
    return [(r.row, r.metric, list(cuts[r.metric])) for r in rating.rows
            if r.kind in ("speed", "memory", "training") and r.metric in cuts]


def notes(rating: Rating) -> list[tuple[str, str, str]]:
    """(row, model or '', note) for every n/a and caveat in the rating."""
    out = []
    for r in rating.rows:
        if r.note:
            out.append((r.row, "", str(r.note)))
        for label, cell in r.models.items():  # random weights: said once, in the Capacity section
            if cell.note and not str(cell.note).endswith(" peak") and cell.note != RANDOM_WEIGHTS:
                out.append((r.row, label, str(cell.note)))
    return out


def stars_source_rows(rating: Rating) -> list[tuple[str, str, str, str]]:
    """(row, metric, where its stars come from, the references-vs-degenerate check) per quality row."""
    cals = rating.calibrations or {}
    out = []
    for r in rating.rows:
        if r.kind != QUALITY:
            continue
        how = r.stars_from or "no stars"
        about = cals.get(r.metric or "") or {}
        if how.startswith("calibration") and about:
            how = (f"calibrated on people's ratings: {about.get('data')} {about.get('criterion')} "
                   f"({about.get('rows')} rated stories, {about.get('groups')} prompts; cross-validated error by prompt: "
                   f"{about.get('cv_mae', float('nan')):.2f}★ per story, {about.get('cv_system_mae', float('nan')):.2f}★ "
                   f"per system mean) [{about.get('name')}]")
            if about.get("top_system") and about["top_people"] - about["top_stars"] >= 0.5:
                how += (f"; the writers people rated best there ({about['top_system']}, {about['top_people']:.1f} of 5) "
                        f"get {about['top_stars']:.1f}★ from it, so stars well above that level are out of this metric's reach")
        elif how == GENRE_SOURCE:
            how = "the calibrated genre probability p: " + str(about.get("formula") or genre_formula())
        elif how == ANCHORS:
            how = "suite anchors (no calibration for this metric): references 5★, degenerate copies 1★, linear"
        anchor = rating.anchors.get(r.metric or "")
        verdict = (str(r.check.reason) if r.check is not None else f"not checked: {anchor.note}"
                   if anchor is not None and anchor.note else "not checked (anchors stored without per-item values)")
        out.append((r.row, r.metric or "n/a", how, verdict))
    return out


def calibration_notes(rating: Rating) -> list[str]:
    """What the calibrations' data are (HANNA is adult short fiction, not children's stories)."""
    seen = []
    for about in (rating.calibrations or {}).values():
        note = about.get("note")
        if note and about.get("data") and note not in seen:  # fitted calibrations (the genre formula has no data)
            seen.append(str(note))
    return seen


def star_cell_text(row: RatingRow, cell: RatingCell | None) -> str:
    """A star-table cell: the shown stars; the Judge preference row has none, so its win rate."""
    if row.kind == JUDGE:
        v = cell.value if cell is not None else None
        return "n/a" if v is None else f"{v:.0%} preferred"
    if cell is not None and cell.note == RANDOM_WEIGHTS:
        return RANDOM_WEIGHTS
    return stars_text(cell.stars if cell is not None else None)


def story_stars_text(rating: Rating, metric: str, scores: dict[str, float | None]) -> tuple[str, str] | None:
    """(row label, shown stars) of one story on the quality row that rates ``metric``: the stars that row
    averaged (its stored ``<metric>_stars`` where calibrated, else between its anchors); None when the
    metric is no quality row's or the row gives no stars."""
    row = next((r for r in rating.rows if r.kind == QUALITY and r.metric == metric
                and any(c.stars is not None for c in r.models.values())), None)
    if row is None:
        return None
    anchor = rating.anchors.get(metric)
    st = story_stars(row.stars_from, metric, scores, None if anchor is None else anchor.model_dump())
    return row.row, "" if st is None else stars_text(round_half(st))


@dataclass
class JudgeSection:
    """The judge's part of a report, as text cells (escaped by each renderer)."""

    facts: list[str]
    preferences: list[list[str]]  # pair, win rate [CI], wins/ties/wins, missing, order agreement, position bias
    agreement: list[list[str]]  # judge metric, automatic metric, stories, Kendall tau
    warnings: list[str]


PREFERENCE_HEADER = ["Pair", "Win rate of the first [95% CI]", "Wins / ties / losses", "Items missing",
                     "Order agreement", "Position bias"]
AGREEMENT_HEADER = ["Judge metric", "Automatic metric", "Stories", "Kendall τ"]


def judge_section(data: ReportData) -> JudgeSection | None:
    """The judge, its pairwise preferences and its consistency report (None: the run had no judge)."""
    run = data.judge
    if run is None:
        return None
    j, c = run.judge, run.consistency
    rubrics = ", ".join(f"{k} {v}" for k, v in j.rubrics.items()) or "n/a"
    facts = [f"Judge: {j.label} (backend {j.backend}, {j.engine or 'engine unknown'}, fingerprint {j.fingerprint})",
             f"Rubrics: {rubrics}",
             f"Story ratings: {run.ratings_total - run.ratings_missing} of {run.ratings_total} answered"
             + (f", {run.ratings_missing} missing (null, with the reason in the story's notes)" if run.ratings_missing else ""),
             f"Pairwise criterion: {run.criterion}; each item is shown in both orders, a model wins it when both "
             "orders prefer its story, otherwise it is a tie (counted half)",
             f"Order agreement: {_pct(c.order_agreement)} · position bias (share of choices for the story shown "
             f"first − 0.5): {fmt_signed(c.position_bias)} · answers missing: {c.missing}"]
    if c.seed_agreement is not None:
        facts.append(f"Agreement across two seeds: {_pct(c.seed_agreement)}")
    prefs = [[f"{p.model_a} vs {p.model_b}", f"{fmt(p.win_rate_a)} {fmt_ci(p.ci_low, p.ci_high)}".strip(),
              f"{p.wins_a} / {p.ties} / {p.wins_b}", str(p.n_missing), _pct(p.order_agreement),
              fmt_signed(p.position_bias)] for p in run.preferences]
    agree = [[a.judge_metric, a.automatic_metric, str(a.n), fmt(a.kendall_tau)] for a in c.agreement]
    return JudgeSection(facts, prefs, agree, list(c.warnings))


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"

