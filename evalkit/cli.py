"""The ``evalkit`` command. Thin: commands live in evalkit/commands/ and are imported only when run,
so ``evalkit --help`` stays fast (no torch, no transformers)."""

from __future__ import annotations

import importlib
import sys

import click

# name -> (module, one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("evalkit.commands.compare", "Generate, measure, score and rate stories from two or more models."),
    "models": ("evalkit.commands.models", "List model presets and whether each can run here."),
    "score": ("evalkit.commands.score", "Score stories produced anywhere (JSONL in, JSONL out)."),
    "report": ("evalkit.commands.report", "Rebuild report.md and report.html of a run without generating."),
    "regress": ("evalkit.commands.regress", "Gate a candidate against a pinned baseline (exit 1 on regression)."),
    "leaderboard": ("evalkit.commands.leaderboard", "One table of every model tried, across runs."),
    "runs": ("evalkit.commands.runs", "List runs in a results folder, flagging unfinished ones."),
    "finetune": ("evalkit.commands.finetune", "Fine-tune a preset with the seed's recipes (full, QLoRA)."),
    "validate": ("evalkit.commands.validate", "Measure how each metric agrees with people on a CSV of rated stories."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[name][0])
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="evalkit")
def cli() -> None:
    """evalkit: choose a language model for children's stories.

    Generates stories from every candidate on a suite of held-out prompts, measures speed and
    memory, scores coherence, repetition, vocabulary, genre, creativity, characters and reading
    level, and rebuilds the seed study's star table with a winner only where the difference is real.
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit 2; Ctrl-C exits 130."""
    from evalkit.errors import EvalkitError

    try:
        cli.main(args=argv, prog_name="evalkit", standalone_mode=False)
    except EvalkitError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        click.echo("interrupted: everything generated so far is kept; rerun the same command to resume", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(2 if e.exit_code == 1 else e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
