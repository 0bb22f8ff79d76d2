"""``evalkit score STORIES.jsonl``: score stories produced anywhere.

In: one JSON object a line with ``story`` and, where known, ``id``, ``prompt``, ``genre``,
``characters`` (names, or {name, description} objects), ``reference`` (a human story for the same
prompt) and ``model`` (stories of one model are scored together by the corpus scorers: self-BLEU,
distinct-2 across stories). With ``--suite``, an ``id`` that names a suite item fills what the line
leaves out. Out: one JSON object a line, in input order: ``id``, ``model`` when given, every metric as
a flat key (null = not scorable) and ``notes`` (why a metric is null, or what it used). Stories are
scored through the score cache of ./results (as `compare` does), so a rerun, a resume after kill -9 or
a second run at the same time scores nothing that is stored.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from evalkit.commands._common import judge_context, scoring_lm_options, split_csv
from evalkit.commands._progress import scoring_bar
from evalkit.errors import EvalkitError
from evalkit.records import write_text
from evalkit.score_cache import DEFAULT_SUBDIR, ScoreCache
from evalkit.scorers.base import ScoringContext
from evalkit.stories import (
    KNOWN_KEYS,
    make_scorers,
    read_stories,
    score_file,
    score_rows,
)
from evalkit.suites import default_suite_name, load_suite
from evalkit.threads import threads_option

__all__ = ["KNOWN_KEYS", "command", "make_scorers", "read_stories", "score_file"]  # the library lives in evalkit.stories


@click.command("score")
@threads_option()
@click.argument("stories", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--suite", "suite_name", help="Suite for genre training, novelty and [scoring] settings "
              "(default: the default suite; 'none' for no suite).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write scores here (JSONL); default: standard output.")
@click.option("--scorers", help="Comma-separated scorer names (default: all installed); evaluate:PATH adds "
              "a local evaluate metric.")
@click.option("--device", help="Device for the embedding and scoring models (cpu, cuda).")
@click.option("--judge", metavar="MODEL", help="Also rate every story with this model as judge (judge_* metrics); "
              "any model argument. Judge calls are cached in results/.cache/judge/.")
@click.option("--models-file", type=click.Path(dir_okay=False), help="TOML file with [models.NAME] tables (for --judge).")
@click.option("--scoring-lm", metavar="MODEL_OR_PROFILE", help="The LM that reads coherence: a preset, a transformers "
              "folder, a .gguf file, or a calibration profile; its profile's norms and star calibration make the "
              "coherence stars (default: SmolLM2-135M and the shipped calibration).")
@click.option("--no-cache", is_flag=True, help="Score every story afresh (default: through the score cache in "
              "results/.cache/scores/, which a killed or concurrent run shares).")
def command(stories: Path, suite_name: str | None, output: Path | None, scorers: str | None, device: str | None,
            judge: str | None, models_file: str | None, scoring_lm: str | None, no_cache: bool) -> None:
    """Score stories produced anywhere: one JSON object a line in, one line of scores out."""
    if output is not None and _same_file(output, stories):
        raise EvalkitError(f"-o {output} is the input file {stories}: writing scores there would replace the "
                           "stories; choose another output file")
    suite = None
    if suite_name is None or suite_name.lower() != "none":
        suite = load_suite(suite_name or default_suite_name())
    chosen = make_scorers(split_csv(scorers))
    found = read_stories(stories, suite)  # bad input fails before the judge loads
    context = ScoringContext(suite=suite, device=device, options=scoring_lm_options(scoring_lm, models_file))
    if judge:
        chosen = judge_context(context, chosen, judge, models_file, Path("results") / DEFAULT_SUBDIR.parent)
    with scoring_bar(len(found)) as advance:  # on stderr, only when it is a terminal
        rows = score_rows(found, chosen, context, advance, None if no_cache else ScoreCache(Path("results") / DEFAULT_SUBDIR))
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if output is None:
        sys.stdout.write(text)
    else:
        write_text(output, text)
        click.echo(f"scored {len(rows)} stories with {', '.join(s.name for s in chosen)} -> {output}", err=True)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: any spelling, a symlink or a hard link to it."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): then they cannot be the same file
        return False
