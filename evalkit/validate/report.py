"""validation.json rendered for people: a rich table on the terminal and Markdown.

Metric names come from scorers (installed plugins included) and are escaped before rendering."""

from __future__ import annotations

import html
from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from evalkit.validate.record import Estimate, MetricResult, ValidationRecord


def fmt(e: Estimate | None, ci: bool = True) -> str:
    if e is None or e.value is None:
        return "–"
    s = f"{e.value:+.3f}"
    if ci and e.low is not None:
        s += f" [{e.low:+.2f}, {e.high:+.2f}]"
    return s


def md_escape(text: str) -> str:
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


IN_SAMPLE = "in-sample: weights fitted on this file, not reported (see its cross-validated row)"


def _label(r: MetricResult) -> str:
    if r.cross_validated:
        return f"{r.metric} (cross-validated)"
    return f"{r.metric} (in-sample)" if r.in_sample else r.metric


def shown(r: MetricResult) -> bool:
    """Whether a row's figures are measurements: a metric whose weights were fitted on this same file
    would report its fit, not its agreement, so its figures are left out."""
    return not r.in_sample


def rich_table(rec: ValidationRecord, criteria: Sequence[str] | None = None):
    t = Table(title=f"Agreement with people: {escape(rec.source)} ({rec.n_stories} stories, {rec.n_groups} groups)",
              caption="τ: Kendall tau-b; [95% interval, bootstrap over groups]; pooled = all machine stories (HANNA's convention)")
    for col in ("metric", "criterion", "pooled τ", "per-group τ", "system τ", "pooled ρ", "τ | length"):
        t.add_column(col, justify="left" if col in ("metric", "criterion") else "right")
    if rec.human_system:
        t.add_column(f"system τ with {escape(rec.human_system)}", justify="right")
        t.add_column("human rank", justify="right")
    for r in rec.results:
        if criteria and r.criterion not in criteria:
            continue
        if not shown(r):
            t.add_row(escape(_label(r)), escape(r.criterion), IN_SAMPLE)
            continue
        m = r.machine
        row = [escape(_label(r)), escape(r.criterion), fmt(m.pooled_tau), fmt(m.group_tau), fmt(m.system_tau),
               fmt(m.pooled_spearman, False), fmt(m.pooled_tau_length_partialled, False)]
        if rec.human_system:
            row += [fmt(r.with_human.system_tau if r.with_human else None),
                    f"{r.human_rank}/{len(rec.systems)}" if r.human_rank else "–"]
        t.add_row(*row)
    return t


def markdown(rec: ValidationRecord, criteria: Sequence[str] | None = None, heading: str = "##") -> str:
    L: list[str] = []
    w = L.append
    human = rec.human_system
    w(f"{heading} Agreement with people on {md_escape(rec.source)}")
    w("")
    intro = (f"{rec.n_stories} stories, {rec.n_groups} groups (prompts), {len(rec.systems)} systems"
             + (f", human-written system: {md_escape(human)}" if human else "") + ". Scorers: "
             + ", ".join(f"{md_escape(k)} ({md_escape(v)})" for k, v in rec.scorers.items()) + ". "
             f"Kendall τ-b and Spearman ρ; brackets: 95% interval from {rec.bootstrap} bootstrap draws of whole groups. "
             "**Pooled τ** is HANNA's story-level convention (all machine stories pooled); **per-group τ** is τ within "
             "each prompt, averaged; **system τ** is τ between the systems' means. **τ | length** is the pooled τ with "
             "story length (words) partialled out.")
    if rec.cv_folds:
        intro += (" Rows marked *cross-validated* are out-of-fold predictions of a ridge combination fitted on machine "
                  f"stories with nested {rec.cv_folds}-fold cross-validation grouped by prompt (no prompt on both sides): "
                  "every choice (the penalty, and which parts where the table of fitted combinations counts more configurations "
                  "than penalties) made inside each outer training part by an inner grouped CV.")
    if any(r.in_sample for r in rec.results):
        intro += " Metrics whose weights were fitted on this file are listed without figures (in-sample)."
    w(intro)
    w("")
    for crit in rec.criteria:
        if criteria and crit not in criteria:
            continue
        rows = [r for r in rec.results if r.criterion == crit]
        if not rows:
            continue
        w(f"{heading}# {md_escape(crit)}")
        w("")
        head = "| metric | pooled τ | per-group τ | system τ | pooled ρ | system ρ | τ \\| length |"
        sep = "|---|---|---|---|---|---|---|"
        if human:
            head += f" pooled τ with {md_escape(human)} | system τ with {md_escape(human)} | {md_escape(human)} ranked |"
            sep += "---|---|---|"
        w(head)
        w(sep)
        for r in rows:
            if not shown(r):
                w(f"| {md_escape(_label(r))} | {IN_SAMPLE} |" + " |" * (5 + (3 if human else 0)))
                continue
            m = r.machine
            line = (f"| {md_escape(_label(r))} | {fmt(m.pooled_tau)} | {fmt(m.group_tau)} | {fmt(m.system_tau)} | "
                    f"{fmt(m.pooled_spearman, False)} | {fmt(m.system_spearman, False)} | {fmt(m.pooled_tau_length_partialled, False)} |")
            if human:
                wh = r.with_human
                line += (f" {fmt(wh.pooled_tau if wh else None)} | {fmt(wh.system_tau if wh else None)} | "
                         f"{r.human_rank or '–'} of {len(rec.systems)} |")
            w(line)
        w("")
        if human and rows and rows[0].people_rank_human:
            w(f"People rank {md_escape(human)} {rows[0].people_rank_human} of {len(rec.systems)} on {md_escape(crit)}.")
            w("")
    if rec.fitted:
        w(f"{heading}# Fitted combinations (weights of the refit on all machine stories, for shipping; no figures of the refit are reported)")
        w("")
        w("| combination | configurations tried | chosen per outer fold | refit's choice | weights per standardized metric |")
        w("|---|---|---|---|---|")
        for f in rec.fitted:
            weights = ", ".join(f"{md_escape(k)} {v:+.3f}" for k, v in f.full_fit_weights.items())
            chosen = "; ".join(map(md_escape, f.chosen)) or ", ".join(f"alpha {a:g}" for a in f.alphas)
            w(f"| {md_escape(f.name)} | {f.configurations} | {chosen} | "
              f"{md_escape(f.full_fit_config) or f'alpha {f.full_fit_alpha:g}'} | {weights} |")
        w("")
    return "\n".join(L) + "\n"
