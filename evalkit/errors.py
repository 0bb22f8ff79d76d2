"""User-facing errors: the CLI prints their message on one line and exits 2."""

from __future__ import annotations


class EvalkitError(Exception):
    """Bad input or an environment problem the user can fix. Never shown as a traceback."""

    exit_code = 2


class SuiteError(EvalkitError):
    """A suite that does not load; ``problems`` holds every ``file:line: message``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"suite has {len(problems)} problem(s): {shown}{more}")


class ModelNotFound(EvalkitError):
    """A model name that is no preset, path or hub id we can use."""


class WeightsMissing(EvalkitError):
    """The model is known but its weights are not on this machine and the hub is unreachable."""


class RecordError(EvalkitError):
    """A stored record (run folder, JSON file) that is damaged or of another schema."""
