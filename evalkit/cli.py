"""The ``evalkit`` command. Thin: commands live in evalkit/commands/ and are imported only when run,
so ``evalkit --help`` stays fast (no torch, no transformers)."""

from __future__ import annotations

import atexit
import errno
import gc
import importlib
import os
import sys

import click

from evalkit.errors import EvalkitError
from evalkit.threads import configure as configure_threads
from evalkit.threads import threads_option

# The interpreter's teardown runs full garbage collections over everything the libraries and models
# left (850k objects in 5k modules after `evalkit score`: seconds; the 26 s between report and exit in
# issue 25). At exit every record is written and nothing left needs a collection: frozen, out of the
# collector's reach, teardown only drops references. Registered first, so it runs after the
# libraries' own exit handlers.
atexit.register(gc.freeze)

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
    "capacity": ("evalkit.commands.capacity", "Measure models at their real shapes with random weights (speed, memory)."),
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
@threads_option(watch=False)
def cli() -> None:
    """evalkit: choose a language model for children's stories.

    Generates stories from every candidate on a suite of held-out prompts, measures speed and
    memory, scores coherence, repetition, vocabulary, genre, creativity, characters and reading
    level, and rebuilds the seed study's star table with a winner only where the difference is real.
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit 2; Ctrl-C exits 130."""
    try:
        # before any command imports torch: OpenMP reads its wait policy when it loads
        configure_threads(warn=lambda line: click.echo(line, err=True))
        cli.main(args=argv, prog_name="evalkit", standalone_mode=False)
        _flush_stdout()  # a full disk or closed pipe on stdout is reported here, not at exit
    except EvalkitError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        click.echo("interrupted: everything generated so far is kept; rerun the same command to resume", err=True)
        sys.exit(130)
    except click.ClickException as e:  # one line too, not click's usage block
        ctx = getattr(e, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if isinstance(e, click.UsageError) and ctx is not None else ""
        click.echo(f"error: {e.format_message()}{hint}", err=True)
        sys.exit(2 if e.exit_code == 1 else e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except UnicodeDecodeError as e:  # a reader that did not name its file: still one line, never a traceback
        click.echo(f"error: a file is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}): "
                   "save it as UTF-8", err=True)
        sys.exit(2)
    except OSError as e:  # the one boundary for file-system faults: read-only, full disk, no permission
        click.echo(f"error: {describe_os_error(e)}", err=True)
        _quiet_stdout()
        sys.exit(2)


def describe_os_error(e: OSError) -> str:
    """One line naming the path(s) and the OS reason, e.g. "cannot write results/x: No space left on device"."""
    lines = [ln.strip() for ln in (e.strerror or str(e)).splitlines() if ln.strip()]
    reason = lines[0][:300] if lines else type(e).__name__  # one line, even for a library's long OSError
    paths = [str(p) for p in (e.filename, e.filename2) if p is not None]
    hint = {errno.ENOSPC: ": free some space and rerun; everything written before is kept",
            errno.EROFS: " (choose a writable folder, e.g. with --results-dir or -o)",
            errno.EACCES: ": no permission; choose another path",
            errno.EPERM: ": not permitted; choose another path",
            errno.EPIPE: " (the reader of standard output went away)"}.get(e.errno or 0, "")
    if not paths:  # writes through an open file or stdout do not carry a name
        return f"{reason}{hint}"
    what = " -> ".join(paths)
    if e.errno == errno.EEXIST and len(paths) == 1 and os.path.exists(paths[0]) and not os.path.isdir(paths[0]):
        return f"{what}: is a file where a folder is needed"
    return f"{what}: {reason}{hint}"


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except OSError as e:
        if e.filename is None:
            e.filename = "standard output"
        raise


def _quiet_stdout() -> None:
    """stdout may be the failing file (a full disk, a closed pipe): drop what is buffered so the
    interpreter's own flush at exit cannot print a second error."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        try:  # the Python docs' recipe for a broken pipe: point the descriptor at devnull
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass


if __name__ == "__main__":
    main()
