"""The stakeholder table's header: detente's column names, the literature's synonyms, the columns ignored.

A header cell is read case-blind, with spaces and hyphens as ``_``. It is one of

* detente's own names (:data:`COLUMNS`), such as ``actor``, ``capability_low``, ``salience_why``;
* a synonym from the literature or a spreadsheet (:data:`SYNONYMS`: ``Stakeholder``, ``name``,
  ``Resources``, ``Power``, ``Influence``...), read as detente's name with a note;
* a column the models do not use (:data:`IGNORED`: the "new model" columns ``Flexibility``,
  ``Veto``, ``Fixed`` of Bueno de Mesquita's later work, row numbers), skipped with a note
  giving the reason;
* in the wide layout (one row per actor), ``position:<issue>``, ``salience:<issue>``,
  ``position_low:<issue>``... for each issue.

Anything else is a problem naming the closest known column.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from ..errors import Problem

_VALUE_PARTS = ("low", "high", "why", "source", "dist", "sd")

#: The per-actor and per-issue columns, and the value columns with their parts.
_PLAIN = ("actor", "actor_name", "group", "color", "notes", "issue", "issue_name", "scale_low", "scale_high", "status_quo")
_VALUES = ("capability", "position", "salience")

#: Every column name detente reads.
COLUMNS: tuple[str, ...] = (
    *_PLAIN,
    *(f"{v}{f'_{p}' if p else ''}" for v in _VALUES for p in ("", *_VALUE_PARTS)),
    "salience_0_1",
    "salience_0_100",
)

#: The columns a stance (one actor on one issue) is made of: what a wide header may give per issue.
STANCE_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c.startswith(("position", "salience")))

#: The columns a wide header may give per issue (``position:<issue>``, ``scale_low:<issue>``...).
WIDE_COLUMNS: tuple[str, ...] = (*STANCE_COLUMNS, "scale_low", "scale_high", "status_quo", "issue_name")

#: Declared salience scales by column name.
SALIENCE_SCALE_OF = {"salience_0_1": 1, "salience_0_100": 100}

#: Synonyms of the literature and of spreadsheets -> detente's column (the first not already in the header).
SYNONYMS: dict[str, tuple[str, ...]] = {
    **{k: ("actor", "actor_name") for k in ("name", "names", "stakeholder", "stakeholders", "player", "players", "actors",
                                           "party", "parties", "country", "countries", "member", "member_state",
                                           "participant", "participants", "organisation", "organization")},
    **{k: ("capability",) for k in ("resources", "resource", "power", "influence", "clout", "capabilities", "cap",
                                    "potential_power", "capacity")},
    **{k: ("position",) for k in ("pos", "positions", "stance", "preference", "ideal_point", "policy_position")},
    **{k: ("salience",) for k in ("importance", "saliency", "sal", "saliences")},
    **{k: ("issue",) for k in ("dimension", "dim", "topic", "issues")},
    **{k: ("notes",) for k in ("note", "comment", "comments", "description", "remarks")},
    "colour": ("color",),
    "coalition": ("group",),
    "bloc": ("group",),
    "salience_0-1": ("salience_0_1",),
    "salience_0_to_1": ("salience_0_1",),
    "salience_0-100": ("salience_0_100",),
    "salience_0_to_100": ("salience_0_100",),
}

_NEW_MODEL = "Bueno de Mesquita's later (\"new\") model"
#: Columns the models do not use -> why they are ignored.
IGNORED: dict[str, str] = {
    "flexibility": f"{_NEW_MODEL}; not used by detente's models",
    "veto": f"{_NEW_MODEL}; detente's models have no veto: give a veto player a high capability and salience",
    "fixed": f"{_NEW_MODEL}; in detente's models every actor may move",
    "id": "a row number or identifier; detente names actors by the actor column",
    "no": "a row number; detente names actors by the actor column",
    "#": "a row number; detente names actors by the actor column",
    "rank": "a ranking; detente's models rank nothing",
}


def normalize(cell: str) -> str:
    """A header cell as it is compared: lower case, trimmed, spaces and hyphens as ``_`` (``0-1`` kept)."""
    c = re.sub(r"[()\[\]]", " ", cell.strip().lower()).strip()
    c = re.sub(r"\s+", "_", c)
    return re.sub(r"_+", "_", re.sub(r"(?<![0-9])-|-(?![0-9])", "_", c))


@dataclass
class Header:
    """A table's header read: which column holds what, what was mapped and ignored, the problems."""

    file: str | None
    line: int | None
    cols: list[str | None] = field(default_factory=list)  # per cell: detente's name, or None (ignored / blank)
    wide: dict[int, tuple[str, str]] = field(default_factory=dict)  # cell index -> (stance column, issue as written)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def names(self) -> set[str]:
        return {c for c in self.cols if c}

    @property
    def salience_col(self) -> str:
        """The column that holds the saliences (``salience``, ``salience_0_1`` or ``salience_0_100``)."""
        for c in ("salience_0_1", "salience_0_100"):
            if c in self.names or any(w[0] == c for w in self.wide.values()):
                return c
        return "salience"

    @property
    def declared_scale(self) -> int | None:
        """The salience scale the header declares (``salience_0_1``: 1, ``salience_0_100``: 100), else None."""
        return SALIENCE_SCALE_OF.get(self.salience_col)

    @property
    def issues(self) -> list[str]:
        """The issues of a wide header, in order of first column."""
        return list(dict.fromkeys(i for _, i in self.wide.values()))

    @property
    def layout(self) -> str:
        """``wide`` (``position:<issue>`` columns), ``long`` (an ``issue`` column) or ``one-issue``."""
        return "wide" if self.wide else ("long" if "issue" in self.names else "one-issue")


def read_header(cells: list[str], file: str | None, line: int | None) -> Header:
    """Map a header row onto detente's columns (see the module docstring)."""
    h = Header(file, line)
    present = {normalize(c) for c in cells if normalize(c) in COLUMNS}
    mapped: list[str] = []
    ignored: list[str] = []
    unknown: list[tuple[str, str]] = []
    for cell in cells:
        n = normalize(cell)
        if not n:
            h.cols.append(None)
            continue
        if ":" in n and n.split(":", 1)[0].strip("_") and cell.split(":", 1)[1].strip():
            base = _name_of(n.split(":", 1)[0].strip("_"), present)
            if base in WIDE_COLUMNS:
                h.wide[len(h.cols)] = (base, cell.split(":", 1)[1].strip())
                h.cols.append(None)
                continue
        if n in COLUMNS:
            h.cols.append(n)
        elif n in IGNORED:
            h.cols.append(None)
            ignored.append(f"{cell.strip()!r} ({IGNORED[n]})")
        elif _name_of(n, present) in COLUMNS:
            name = _name_of(n, present)
            present.add(name)
            h.cols.append(name)
            mapped.append(f"{cell.strip()!r} as {name!r}")
        else:
            h.cols.append(None)
            close = difflib.get_close_matches(n, [*COLUMNS, *SYNONYMS], n=1, cutoff=0.75)
            unknown.append((cell.strip()[:60], f"{cell.strip()[:40]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")))
    if unknown:
        h.problems.append(Problem(file, line, unknown[0][0],
                                  f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(u for _, u in unknown)}: detente reads "
                                  "actor, issue, capability, position, salience and their parts (_low, _high, _why, ...), "
                                  "see docs/scenario-format.md, \"From your spreadsheet\""))
    if mapped:
        h.notes.append("read the column" + ("s " if len(mapped) > 1 else " ") + ", ".join(mapped))
    if ignored:
        h.notes.append("ignored the column" + ("s " if len(ignored) > 1 else " ") + "; ".join(ignored))
    _check_required(h)
    return h


def _name_of(n: str, present: set[str]) -> str:
    """detente's name for a normalized header cell: itself, or the first synonym target not already present."""
    if n in COLUMNS:
        return n
    for target in SYNONYMS.get(n, ()):
        if target not in present:
            return target
    return n


def _check_required(h: Header) -> None:
    names = h.names
    seen: dict[str, int] = {}
    for c in h.cols:
        if c:
            seen[c] = seen.get(c, 0) + 1
    for c, n in seen.items():
        if n > 1:
            h.problems.append(Problem(h.file, h.line, c, f"{n} columns are read as {c!r}; keep one"))
    sal = [c for c in ("salience", "salience_0_1", "salience_0_100") if c in names]
    if len(sal) > 1:
        h.problems.append(Problem(h.file, h.line, sal[1], f"both {sal[0]!r} and {sal[1]!r}: keep one salience column"))
    need = ["actor", "capability"]
    if not h.wide:
        need += ["position", h.salience_col]
    for c in need:
        if c not in names:
            h.problems.append(Problem(h.file, h.line, c, f"missing column {c!r}"))
    if h.wide:
        for issue in h.issues:
            have = {b for b, i in h.wide.values() if i == issue}
            if "position" not in have:
                h.problems.append(Problem(h.file, h.line, f"position:{issue}", f"missing column 'position:{issue}'"))
            if not have & {"salience", "salience_0_1", "salience_0_100"}:
                h.problems.append(Problem(h.file, h.line, f"salience:{issue}", f"missing column 'salience:{issue}'"))
        if "issue" in names:
            h.problems.append(Problem(h.file, h.line, "issue", "a wide table (position:<issue> columns) has no issue column"))
