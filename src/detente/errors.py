"""User-facing errors: every problem with a file, a location, a field and a reason.

Anything the user can get wrong (a scenario, a dataset, a parameter) raises
:class:`DetenteError` carrying a list of :class:`Problem`; the CLI prints them
and exits with code 2, the web API answers 422 with the same list. Nothing in
detente shows a user a traceback for bad input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input.

    Attributes
    ----------
    file : str or None
        The file it is in (None for input given as a Python value).
    line : int or None
        The 1-based line (or CSV line) it is on, where known.
    field : str
        A dotted path to the field, e.g. ``actors[trump].capability``.
    reason : str
        What is wrong, in plain words.
    """

    file: str | None
    line: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"

    def to_dict(self) -> dict:
        return asdict(self)


class DetenteError(Exception):
    """Bad input: one or more :class:`Problem`."""

    def __init__(self, problems: list[Problem] | Problem | str, *, file: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(file, None, "", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        """All problems, one per line."""
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found:"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


class ScenarioError(DetenteError):
    """A scenario file or value that does not validate."""


class DatasetError(DetenteError):
    """A backtest dataset that cannot be read."""
