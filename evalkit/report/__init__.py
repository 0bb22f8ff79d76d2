"""Reports of one run, rebuilt from its stored records only (no model, no scorer):
report.md (the seed's table, numbers, anchors) and report.html (the same plus charts and every story).

Both are pure functions of rating.json, manifest.json, generations.jsonl and scores.jsonl, with no
clock in them, so rebuilding a report of the same run writes the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.report.format import fmt, fmt_ci, fmt_signed, stars_text

__all__ = ["fmt", "fmt_ci", "fmt_signed", "stars_text"]  # re-exported: the renderers' one formatting module


@dataclass(frozen=True)
class Output:
    """One model's story for one item."""

    text: str
    error: str | None = None
    scores: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class StoryView:
    item_id: str
    genre: str
    prompt: str
    characters: tuple[tuple[str, str], ...]
    reference: str
    outputs: dict[str, Output]


@dataclass
class ReportData:
    run_id: str
    rating: dict[str, Any]
    manifest: Any  # evalkit.records.Manifest
    stories: list[StoryView]
    metrics: dict[str, dict[str, Any]]  # summary.json "metrics": direction, range, description
    judge: Any = None  # judge.json (evalkit.judge.run.JudgeRun) when the run used a judge

    @property
    def models(self) -> list[str]:
        return list(self.rating.get("models") or [m.label for m in self.manifest.models])

    def row(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.rating.get("rows", []) if r.get("row") == name), None)


def load_report_data(run_dir: str | Path, rating: dict[str, Any] | None = None, ctx: Any = None) -> ReportData:
    """What the reports show, from the run's stored records (``ctx``: a pipeline.RunContext already
    holding them). The run must be rated: rating.json, or ``rating`` given."""
    from evalkit.records import read_json

    if ctx is None:
        from evalkit.pipeline import RunContext

        ctx = RunContext.load(run_dir)
    run_dir = ctx.run_dir
    manifest = ctx.manifest
    if rating is None:
        if not (run_dir / "rating.json").exists():
            raise EvalkitError(f"run {manifest.run_id} is not rated yet: `evalkit report {run_dir}` rates and reports it")
        rating = read_json(run_dir / "rating.json")
    if not isinstance(rating, dict) or not isinstance(rating.get("rows"), list):
        raise EvalkitError(f"{run_dir / 'rating.json'}: not an evalkit rating (rebuild it: delete it and rerun)")
    summary = ctx.summary()
    gens = {(g.model, g.item_id): g for g in ctx.generations() if g.sample == 0}  # one story per item is shown
    scores = {(s.model, s.item_id): s.scores for s in ctx.scores() if s.sample == 0}
    items = {i.id: i for i in ctx.suite.items} if ctx.suite is not None else {}
    labels = [m.label for m in manifest.models]
    stories = []
    for item_id in manifest.suite.item_ids:
        item = items.get(item_id)
        outputs = {}
        for label in labels:
            g = gens.get((label, item_id))
            if g is not None:
                outputs[label] = Output(g.text, g.error, dict(scores.get((label, item_id), {})))
        stories.append(StoryView(
            item_id=item_id,
            genre=item.genre if item else "unknown",
            prompt=item.prompt if item else "(the suite version of this run is not available)",
            characters=tuple((c.name, c.description) for c in item.characters) if item else (),
            reference=item.story if item else "",
            outputs=outputs,
        ))
    from evalkit.judge.run import load_judge_run

    return ReportData(manifest.run_id, rating, manifest, stories, dict(summary.get("metrics") or {}),
                      load_judge_run(run_dir))


def write_reports(run_dir: str | Path, rating: dict[str, Any] | None = None, ctx: Any = None) -> tuple[Path, Path]:
    """Write report.md and report.html of a rated run into its folder (atomically). Returns both paths.
    (pipeline.ensure_reported / report_run rate the run first when it is not rated.)"""
    from evalkit.records import write_text
    from evalkit.report.html import render_html
    from evalkit.report.markdown import render_markdown

    data = load_report_data(run_dir, rating, ctx)
    folder = ctx.run_dir if ctx is not None else Path(run_dir)
    md, html = folder / "report.md", folder / "report.html"
    write_text(md, render_markdown(data))
    write_text(html, render_html(data))
    return md, html


# ---------------------------------------------------------------- formatting shared by md, html, console

def not_informative(row: dict[str, Any]) -> bool:
    """A quality row whose suite references do not beat their degenerate copies: no stars, no winner."""
    check = row.get("check")
    return isinstance(check, dict) and not check.get("informative", True)


def winner_text(row: dict[str, Any]) -> str:
    w = row.get("winner")
    if not_informative(row):
        return "not informative on this suite"
    if w is None:
        return "n/a"
    if w == "tie":
        leaders = row.get("leaders") or []
        models = list(row.get("models") or {})
        return "tie" if len(models) <= 2 or not leaders or len(leaders) == len(models) else "tie: " + ", ".join(leaders)
    return str(w)


def value_text(cell: dict[str, Any]) -> str:
    """mean [CI] or a single value, or n/a."""
    v = cell.get("value")
    if v is None:
        return "n/a"
    ci = fmt_ci(cell.get("ci_low"), cell.get("ci_high"))
    return f"{fmt(v)} {ci}".rstrip()


def comparison_text(c: dict[str, Any]) -> str:
    """'+0.12 [0.05, 0.20]' for a paired test; '+1.2 (single values)' for a margin comparison."""
    if c.get("ci_low") is None:
        return f"{fmt_signed(c.get('diff'))} (one value each)"
    unit = c.get("unit") or ""
    return f"{fmt_signed(c.get('diff'))}{unit} {fmt_ci(c.get('ci_low'), c.get('ci_high'))}"


def method_text(row: dict[str, Any], rating: dict[str, Any]) -> str:
    """How the row's winner was decided, in words (never claims a test that was not run)."""
    comps = row.get("comparisons") or []
    if not_informative(row):
        return str((row.get("check") or {}).get("reason") or "not informative on this suite")
    if row.get("test"):
        return str(row["test"])
    if not comps:
        return "not compared"
    if all(c.get("ci_low") is None for c in comps):  # single measurements: a margin, not a test
        tol = (rating.get("rules") or {}).get("single_measurement_tolerance")
        return "one value per model: winner only if lower by more than " + (f"{tol:.0%}" if tol is not None else "the margin")
    n = min(c.get("n") or 0 for c in comps)
    return f"paired bootstrap over {n} stories"


def provenance(data: ReportData) -> str:
    """The line that says which weights, device and suite produced the table."""
    r = data.rating
    w = weights_text(r)
    rules = r.get("rules") or {}
    holm = ", Holm-corrected over each row's pairs" if len(r.get("models") or []) > 2 else ""
    samples = int(r.get("samples") or 1)
    boot = (f"cluster bootstrap over suite items ({samples} stor{'ies' if samples != 1 else 'y'} per item and model, "
            f"averaged inside the item), {rules.get('bootstrap_resamples', 10000):,} resamples "
            f"(seed {rules.get('bootstrap_seed', '?')}), {rules.get('confidence', 0.95):.0%}{holm}")
    m = data.manifest
    return (f"Weights (Overall Quality): {w} · Device: {r.get('device') or 'unknown'} · "
            f"Suite: {r.get('suite')} (split {r.get('split')}, {len(m.suite.item_ids)} stories, hash {m.suite.hash}) · "
            f"Run: {data.run_id} (evalkit {m.evalkit_version}) · Winners: {boot}" + scoring_lm_text(m))


def scoring_lm_text(manifest: Any) -> str:
    """Which LM scored coherence, and the warning when a candidate was graded by its own model."""
    info = getattr(manifest, "scoring_lm", None)
    if info is None:
        return ""
    return f" · Coherence LM: {info.name}" + (f" · WARNING: {info.warning}" if info.warning else "")


def weights_text(rating: dict[str, Any]) -> str:
    """Overall Quality's weights, normalised, with the rows that had no stars marked as left out."""
    weights = {k: v for k, v in (rating.get("weights") or {}).items() if isinstance(v, (int, float))}
    rated = {r.get("row") for r in rating.get("rows", [])
             if any(c.get("stars") is not None for c in (r.get("models") or {}).values())}
    total = sum(v for k, v in weights.items() if k in rated) or 1.0
    return ", ".join(f"{k} {v / total:.2f}" if k in rated else f"{k} (n/a, left out)" for k, v in weights.items()) or "none"


def cut_rows(rating: dict[str, Any]) -> list[tuple[str, str, list[float]]]:
    """(row, measurement, cut points for 5..1 stars) for the log-scale rows, from the stored rules."""
    cuts = (rating.get("rules") or {}).get("cuts") or {}
    out = []
    for r in rating.get("rows", []):
        if r.get("kind") in ("speed", "memory", "training") and r.get("metric") in cuts:
            out.append((r["row"], r["metric"], list(cuts[r["metric"]])))
    return out


def notes(rating: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(row, model or '', note) for every n/a and caveat in the rating."""
    out = []
    for r in rating.get("rows", []):
        if r.get("note"):
            out.append((r["row"], "", str(r["note"])))
        for label, cell in (r.get("models") or {}).items():
            if cell.get("note") and not str(cell["note"]).endswith(" peak"):
                out.append((r["row"], label, str(cell["note"])))
    return out


def stars_source_rows(rating: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(row, metric, where its stars come from, the references-vs-degenerate check) per quality row."""
    cals = rating.get("calibrations") or {}
    out = []
    for r in rating.get("rows", []):
        if r.get("kind") != "quality":
            continue
        how = r.get("stars_from") or "no stars"
        about = cals.get(r.get("metric") or "") or {}
        if how.startswith("calibration") and about:
            how = (f"calibrated on people's ratings: {about.get('data')} {about.get('criterion')} "
                   f"({about.get('rows')} rated stories, {about.get('groups')} prompts; cross-validated error by prompt: "
                   f"{about.get('cv_mae', float('nan')):.2f}★ per story, {about.get('cv_system_mae', float('nan')):.2f}★ "
                   f"per system mean) [{about.get('name')}]")
            if about.get("top_system") and about["top_people"] - about["top_stars"] >= 0.5:
                how += (f"; the writers people rated best there ({about['top_system']}, {about['top_people']:.1f} of 5) "
                        f"get {about['top_stars']:.1f}★ from it, so stars well above that level are out of this metric's reach")
        elif how == "genre probability":
            how = "the calibrated genre probability p: " + str(about.get("formula") or "1 + 4·clip((p − 1/K)/(0.9 − 1/K), 0, 1)")
        elif how == "anchors":
            how = "suite anchors (no calibration for this metric): references 5★, degenerate copies 1★, linear"
        check = r.get("check")
        anchor = (rating.get("anchors") or {}).get(r.get("metric") or "") or {}
        verdict = (str(check.get("reason")) if isinstance(check, dict) else f"not checked: {anchor['note']}"
                   if anchor.get("note") else "not checked (anchors stored without per-item values)")
        out.append((r["row"], r.get("metric") or "n/a", how, verdict))
    return out


def calibration_notes(rating: dict[str, Any]) -> list[str]:
    """What the calibrations' data are (HANNA is adult short fiction, not children's stories)."""
    seen = []
    for about in (rating.get("calibrations") or {}).values():
        note = about.get("note")
        if note and about.get("data") and note not in seen:  # fitted calibrations (the genre formula has no data)
            seen.append(str(note))
    return seen


def star_cell_text(row: dict[str, Any], cell: dict[str, Any]) -> str:
    """A star-table cell: the shown stars; the Judge preference row has none, so its win rate."""
    if row.get("kind") == "judge":
        v = cell.get("value")
        return "n/a" if v is None else f"{v:.0%} preferred"
    return stars_text(cell.get("stars"))


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

