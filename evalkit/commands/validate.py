"""``evalkit validate RATINGS.csv``: how well each metric agrees with people, on stories people rated.

HANNA's CSV works as it is; other files map their columns with --story-col/--system-col/--group-col
and --criterion. Stories are scored through the score cache (a second run scores only what is new),
then each metric x criterion gets pooled, per-group and system-level Kendall tau and Spearman rho
with 95% intervals from a bootstrap over groups, without and with the human-written system.
``--scoring-lm MODEL_OR_PROFILE`` reads coherence with another LM; with ``--fit`` the run also fits that
reader's calibration profile (evalkit.profiles: its norms and star calibration, cross-validated by prompt)
and stores it, named by ``--profile``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from evalkit.commands._common import judge_context, scoring_lm_options, split_csv
from evalkit.commands._progress import scoring_bar
from evalkit.calibration import FOLDS
from evalkit.errors import EvalkitError
from evalkit.profiles import SHIPPED_DIR, ProfileReader, find_profile, load_profile, save_profile
from evalkit.records import write_json, write_text
from evalkit.scorers.base import ScoringContext
from evalkit.scorers.lm import default_reader, is_default_reader, locate_reader, reader_options
from evalkit.stories import load_scorer_specs
from evalkit.validate.docs import write_docs
from evalkit.validate.pipeline import validate
from evalkit.validate.profile_fit import fit_profile
from evalkit.validate.ratings import ColumnMap, load_ratings
from evalkit.validate.report import markdown, rich_table


@click.command("validate")
@click.argument("ratings", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--story-col", default="story", show_default=True, help="Column with the story text.")
@click.option("--system-col", default="model", show_default=True, help="Column naming the system that wrote the story.")
@click.option("--group-col", default="prompt_id", show_default=True, help="Column naming the group (prompt) of the story.")
@click.option("--prompt-col", default="prompt", show_default=True, help="Column with the prompt text (optional).")
@click.option("--criterion", "criteria", multiple=True, help="A rating column (repeat; default: HANNA's criteria present).")
@click.option("--human-system", help="The system whose stories people wrote (default: 'Human' when present).")
@click.option("--scorers", help="Comma-separated scorer names (default: all installed); MODULE:CLASS for your own.")
@click.option("--cv", type=click.IntRange(2), help="Fit ridge combinations of metrics with K-fold CV grouped by prompt.")
@click.option("--bootstrap", type=click.IntRange(10), default=1000, show_default=True, help="Bootstrap draws of groups.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results/.cache/scores"),
              show_default=True, help="Score cache folder.")
@click.option("--no-cache", is_flag=True, help="Score everything again and store nothing.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results/validation"),
              show_default=True, help="Folder for validation.json and validation.md.")
@click.option("--docs", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the scorer documentation (docs/metrics.md) from this run and the other checks.")
@click.option("--roc-pairs", type=click.IntRange(0), default=1000, show_default=True,
              help="With --docs: ROC stories in the shuffle test (0 skips it).")
@click.option("--device", help="Device for the embedding and scoring models (cpu, cuda).")
@click.option("--judge", metavar="MODEL", help="Also measure this model as judge (judge_* metrics, any model "
              "argument) against the human ratings; judge calls are cached beside the score cache.")
@click.option("--judge-rubrics", help="With --judge: comma-separated rubrics to rate (default: all five), "
              "e.g. coherence to measure against HANNA's Coherence at a fifth of the cost.")
@click.option("--models-file", type=click.Path(dir_okay=False), help="TOML file with [models.NAME] tables (for --judge).")
@click.option("--scoring-lm", metavar="MODEL_OR_PROFILE", help="The LM that reads coherence: a preset, a transformers "
              "folder, a .gguf file, or a calibration profile (its reader); default SmolLM2-135M.")
@click.option("--fit", is_flag=True, help="Also fit the reader's calibration profile (norms of its LM parts and the "
              "coherence star calibration, cross-validated by prompt) and store it (docs/validate.md says where).")
@click.option("--profile", "profile_name", metavar="NAME", help="With --fit: the profile's name (default: the reader's "
              "name), or a .json path to write it to.")
def command(ratings: Path, story_col: str, system_col: str, group_col: str, prompt_col: str, criteria: tuple[str, ...],
            human_system: str | None, scorers: str | None, cv: int | None, bootstrap: int, cache_dir: Path,
            no_cache: bool, out_dir: Path, docs: Path | None, roc_pairs: int, device: str | None,
            judge: str | None, judge_rubrics: str | None, models_file: str | None, scoring_lm: str | None,
            fit: bool, profile_name: str | None) -> None:
    """Measure how each metric agrees with human ratings (a CSV of rated stories)."""
    if profile_name and not fit:
        raise EvalkitError("--profile names the profile --fit writes: add --fit")
    columns = ColumnMap(story=story_col, system=system_col, group=group_col, prompt=prompt_col,
                        criteria=tuple(criteria), human_system=human_system)
    table = load_ratings(ratings, columns)
    lm_opts, reader, profile_name = reader_context(scoring_lm, fit, profile_name, models_file)
    # a fit needs coherence only: the other scorers run when named
    chosen = load_scorer_specs(split_csv(scorers) or (["coherence"] if fit else None))
    if fit and not any(s.name == "coherence" for s in chosen):
        raise EvalkitError("--fit fits coherence's profile: --scorers must include coherence")
    if cv is not None and cv > table.n_groups:
        raise EvalkitError(f"--cv {cv}: more folds than groups ({table.n_groups})")
    console = Console(stderr=True)
    done = [0]

    def progress(system: str, n: int) -> None:
        done[0] += n
        console.print(f"scored {system}: {n} stories ({done[0]}/{len(table.frame)})")

    context = ScoringContext(device=device, options={"lm": lm_opts} if lm_opts else None)
    if judge:  # the judge is one more scorer: the same pooled, per-group, system and --cv figures
        chosen = judge_context(context, chosen, judge, models_file, None if no_cache else cache_dir.parent,
                               split_csv(judge_rubrics))
    with scoring_bar(len(table.frame)) as advance:  # on stderr, only when it is a terminal
        rec, scores = validate(table, chosen, context, None if no_cache else cache_dir, boot=bootstrap, cv=cv,
                               progress=progress, advance=advance)
    write_json(out_dir / "validation.json", rec)
    per_story = table.frame[["id", "system", "group"]].join(scores)  # every story's numbers, to check or refit
    write_text(out_dir / "scores.jsonl", per_story.to_json(orient="records", lines=True, force_ascii=False))
    write_text(out_dir / "validation.md", markdown(rec))
    out = Console()
    if not out.is_terminal:  # a pipe or a file: wide enough that the table is not squeezed
        out = Console(width=180)
    out.print(rich_table(rec))
    if docs is not None:
        write_docs(docs, rec, chosen, context, None if no_cache else cache_dir, roc_pairs=roc_pairs)
        console.print(f"wrote {docs}")
    console.print(f"scoring took {rec.scoring_s:.1f} s, statistics {rec.statistics_s:.1f} s; wrote validation.json, "
                  f"validation.md and scores.jsonl in {out_dir}")
    if fit and reader is not None:
        crit = criteria[0] if criteria else "Coherence"
        name = Path(profile_name).stem if profile_name.endswith(".json") else profile_name
        prof = fit_profile(table, scores, reader, name, crit, folds=cv or FOLDS)
        path = save_profile(prof, profile_name)
        console.print(f"wrote {path}: {prof.summary()}; system MAE {prof.cv.system_mae:.2f}, system τ "
                      f"{_num(prof.cv.system_tau)} ({prof.cv.folds} folds grouped by prompt, norms and calibration "
                      f"fitted inside each)")


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:+.3f}"


def reader_context(arg: str | None, fit: bool, profile_name: str | None,
                   models_file: str | None) -> tuple[dict[str, Any], ProfileReader | None, str | None]:
    """(lm options, the reader to fit a profile for): ``--scoring-lm`` resolved (default: SmolLM2). A fit
    reads without any profile and may not replace a profile of the same name fitted for other weights."""
    if not fit:
        return (scoring_lm_options(arg, models_file) or {}).get("lm", {}), None, None
    path, name, fp, found = locate_reader(arg, models_file) if arg else default_reader()
    # refitting a profile named by --scoring-lm keeps its name
    named = load_profile(found).name if arg and found is not None and find_profile(arg) == found else name
    profile_name = profile_name or named
    existing = find_profile(profile_name)
    if existing is not None and existing.parent != SHIPPED_DIR:
        old = load_profile(existing)
        if old.reader.fingerprint != fp:
            raise EvalkitError(f"profile {old.name} ({existing}) was fitted for reader {old.reader.name} (weights "
                               f"{old.reader.fingerprint}), not {name} ({fp}): choose another --profile name")
    reader = ProfileReader(name=name, argument=arg or name, path=str(path), fingerprint=fp,
                           default=is_default_reader(fp))
    return reader_options(path, fp), reader, profile_name
