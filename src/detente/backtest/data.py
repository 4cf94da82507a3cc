"""Backtest datasets: issues with actors' positions, saliences and the actual outcome.

Two on-disk formats are read (both documented in ``docs/backtest.md``):

``deu``
    The layout of the DEU data shipped in ``detente/data/deu`` (``issues.csv``,
    ``positions.csv``, ``council_weights.csv``, ``gdp_capability.csv``). Any copy
    in the same layout can be read with ``data=PATH``, e.g. one that adds a DEU
    III wave: unknown wave names and actors are accepted.
``outcomes``
    A folder of scenario files plus an ``outcomes.csv`` whose rows name a
    scenario file, an issue key in it and the actual outcome. Scenarios are read
    with :func:`detente.load` through :func:`load_scenario_inputs`.

Every loader validates the whole folder first and raises one
:class:`~detente.errors.DatasetError` listing every problem (file, CSV line,
field, reason). Issues that are well formed but cannot be scored (no outcome,
fewer than ``min_actors`` actors with both a position and a salience) are not
errors: they are kept in :attr:`Dataset.skipped` with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, NamedTuple

import numpy as np

from .._parse import bounded, csv_records, parse_number, path_inside, read_text, short
from ..errors import DatasetError, DetenteError, Problem

#: Issues need at least this many actors with both a position and a salience.
MIN_ACTORS = 3

DEU_FILES = ("issues.csv", "positions.csv", "council_weights.csv", "gdp_capability.csv")
_ISSUE_COLUMNS = ("isnr", "wave", "out")
_POSITION_COLUMNS = ("isnr", "actor", "position", "salience")
_WEIGHT_COLUMNS = ("name",)
_GDP_COLUMNS = ("actor",)
_OUTCOME_COLUMNS = ("scenario", "issue", "outcome")


@dataclass(frozen=True)
class Issue:
    """One scorable issue: who counts, where they stand, and what was decided.

    Attributes
    ----------
    key : str
        The issue id (``isnr`` in DEU; ``scenario#issue`` in the outcomes format).
    outcome : float
        The actual decision on the issue's scale.
    actors : tuple of str
        Actor codes of the actors that count (a position and a salience).
    names : tuple of str
        Their display names (used to look up Council weights).
    position : ndarray, shape (n,)
        Positions on the issue's scale.
    salience : ndarray, shape (n,)
        Saliences on the 0-1 scale.
    low, high : float
        The issue's scale.
    status_quo : float
        The reference point (NaN where none is given).
    meta : dict of str -> str
        Breakdown fields (``wave``, ``proc``, ``rule``, ``type``) and anything else
        the format carries (``counvte`` as written, ``council``, ...).
    capability : ndarray or None
        Capabilities that come with the data (the outcomes format's scenarios);
        None for DEU, whose capabilities are chosen by the backtest.
    roles : dict of str -> str
        Actor codes playing an institutional role (``commission``,
        ``parliament``), where the format knows them.
    line : int or None
        The CSV line that defined the issue, for messages.
    """

    key: str
    outcome: float
    actors: tuple[str, ...]
    names: tuple[str, ...]
    position: np.ndarray
    salience: np.ndarray
    low: float = 0.0
    high: float = 100.0
    status_quo: float = math.nan
    meta: dict[str, str] = field(default_factory=dict)
    capability: np.ndarray | None = None
    roles: dict[str, str] = field(default_factory=dict)
    line: int | None = None

    @property
    def n(self) -> int:
        """The number of actors that count."""
        return len(self.actors)

    @property
    def has_status_quo(self) -> bool:
        """Whether a reference point is given."""
        return not math.isnan(self.status_quo)


@dataclass
class Dataset:
    """A loaded backtest dataset.

    Attributes
    ----------
    name : str
        ``"deu"`` or ``"outcomes"``.
    path : str
        Where it was read from.
    issues : list of Issue
        The scored issues, in file order.
    skipped : list of dict
        Issues that could not be scored: ``{"issue", "file", "line", "reason"}``.
    n_total : int
        Every issue in the dataset, scored or not.
    council_weights : list of dict
        Rows of ``council_weights.csv`` (DEU only), values as strings.
    gdp : dict of str -> float
        GDP per actor code (DEU only).
    """

    name: str
    path: str
    issues: list[Issue]
    skipped: list[dict[str, Any]]
    n_total: int
    council_weights: list[dict[str, str]] = field(default_factory=list)
    gdp: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# helpers


def proposal_key(issue: Any) -> str:
    """The proposal an issue belongs to: DEU's ``prnr``, the outcomes format's scenario file, else the issue itself."""
    return issue.meta.get("prnr") or issue.meta.get("scenario") or issue.key


def deu_path() -> Path:
    """The folder of the DEU copy shipped inside the package."""
    return Path(str(resources.files("detente") / "data" / "deu"))


def _read_csv(path: Path, required: Iterable[str], problems: list[Problem]) -> list[tuple[int, dict[str, str]]] | None:
    """Rows of a CSV as ``(line, row)``; None (with a problem) if unreadable.

    Read within the input bounds (a regular file of at most ``max_file_bytes``,
    ``max_rows`` rows, ``max_field_chars`` per cell; see docs/scenario-format.md).
    """
    fname = str(path)
    if not path.exists():
        problems.append(Problem(fname, None, "", "file not found"))
        return None
    try:
        text = read_text(path, DatasetError)
        header: list[str] | None = None
        rows: list[tuple[int, dict[str, str]]] = []
        for line, rec in csv_records(text, fname, error=DatasetError):
            if header is None:
                header, width = rec, len(rec)
                missing = [c for c in required if c not in header]
                if missing:
                    for c in missing:
                        problems.append(Problem(fname, 1, c, "required column is missing"))
                    return None
                continue
            if not rec:
                continue
            # line numbers: the header is line 1, so the first row is line 2
            if len(rec) < width:
                rec = rec + [""] * (width - len(rec))
            rows.append((line, dict(zip(header, map(str.strip, rec)))))
    except DatasetError as exc:
        problems.extend(exc.problems)
        return None
    if header is None:
        for c in required:
            problems.append(Problem(fname, 1, c, "required column is missing"))
        return None
    return rows


def _number(text: str, fname: str, line: int, fld: str, problems: list[Problem], *, blank_ok: bool = True) -> float:
    """A float from a CSV cell; NaN for a blank (or ``NA``) cell."""
    if text.upper() in ("NA", "NAN"):
        text = ""
    v = parse_number(text, fname, line, fld, problems, missing=None if blank_ok else "value is missing")
    return math.nan if v is None else v


def _in_scale(v: float, low: float, high: float, fname: str, line: int, fld: str, problems: list[Problem]) -> None:
    if not math.isnan(v) and not (low <= v <= high):
        problems.append(Problem(fname, line, fld, f"{v:g} is outside the scale [{low:g}, {high:g}]"))


def normalise_rule(text: str) -> str:
    """``QMV``, ``QMV(10)`` -> ``QMV``; ``Unan``/``unanimity`` -> ``Unan``; else as written."""
    t = text.strip()
    if t.upper().startswith("QMV") or t.lower() in ("qualified majority", "qualified"):
        return "QMV"
    if t.lower().startswith("unan"):
        return "Unan"
    return t


# ---------------------------------------------------------------------------
# DEU


class _IssueRow(NamedTuple):
    """One row of ``issues.csv``: its line, its cells, the outcome and the reference point (NaN if blank)."""

    line: int
    row: dict[str, str]
    out: float
    rp: float


#: One row of ``positions.csv``: actor code, display name, position and salience (NaN if blank);
#: a plain tuple (tens of thousands are made per load, and a NamedTuple is slower to make).
_PositionRow = tuple[str, str, float, float]


#: DEU's scale: positions, outcomes and reference points lie on 0-100.
_DEU_LOW, _DEU_HIGH = 0.0, 100.0


@bounded
def load_deu(path: str | Path | None = None, *, min_actors: int = MIN_ACTORS) -> Dataset:
    """Read a DEU-layout folder (the shipped copy when ``path`` is None).

    Parameters
    ----------
    path : str or Path, optional
        A folder holding ``issues.csv``, ``positions.csv``,
        ``council_weights.csv`` and ``gdp_capability.csv``.
    min_actors : int
        Issues with fewer actors having both a position and a salience are skipped.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        A missing file or column, a value that is not a number, a position,
        salience or outcome outside the 0-100 scale, an issue with no
        positions, a position row for an unknown issue, a duplicate row.
    """
    folder = deu_path() if path is None else Path(path)
    problems: list[Problem] = []
    if not folder.is_dir():
        raise DatasetError([Problem(str(folder), None, "", "dataset folder not found")])
    issues_rows = _read_csv(folder / "issues.csv", _ISSUE_COLUMNS, problems)
    pos_rows = _read_csv(folder / "positions.csv", _POSITION_COLUMNS, problems)
    weight_rows = _read_csv(folder / "council_weights.csv", _WEIGHT_COLUMNS, problems)
    gdp_rows = _read_csv(folder / "gdp_capability.csv", _GDP_COLUMNS, problems)
    if problems:
        raise DatasetError(problems)
    assert issues_rows is not None and pos_rows is not None and weight_rows is not None and gdp_rows is not None
    fi = str(folder / "issues.csv")
    info = _deu_issue_rows(issues_rows, fi, problems)
    per_issue = _deu_position_rows(pos_rows, info, str(folder / "positions.csv"), problems)
    for key, rows in per_issue.items():
        if not any(not math.isnan(x) for _, _, x, _ in rows):
            problems.append(Problem(fi, info[key].line, "isnr", f"issue {key!r} has no positions in positions.csv"))
    gdp = _deu_gdp(gdp_rows, str(folder / "gdp_capability.csv"), problems)
    _check_deu_weights(weight_rows, str(folder / "council_weights.csv"), problems)
    if problems:
        raise DatasetError(problems)

    issues: list[Issue] = []
    skipped: list[dict[str, Any]] = []
    for key, rows in per_issue.items():
        scored = _deu_issue(key, info[key], rows, min_actors)
        if isinstance(scored, Issue):
            issues.append(scored)
        else:
            skipped.append({"issue": key, "file": fi, "line": info[key].line, "reason": scored,
                            "wave": info[key].row.get("wave", "")})
    return Dataset(
        name="deu",
        path=str(folder),
        issues=issues,
        skipped=skipped,
        n_total=len(info),
        council_weights=[r for _, r in weight_rows],
        gdp=gdp,
    )


def _deu_issue_rows(rows: list[tuple[int, dict[str, str]]], fname: str, problems: list[Problem]) -> dict[str, _IssueRow]:
    """``issues.csv``: every issue by id, in file order (ids missing or seen before are problems)."""
    info: dict[str, _IssueRow] = {}
    for line, row in rows:
        key = row["isnr"]
        if not key:
            problems.append(Problem(fname, line, "isnr", "issue id is missing"))
            continue
        if key in info:
            problems.append(Problem(fname, line, "isnr", f"duplicate issue {short(key)} (first on line {info[key].line})"))
            continue
        out = _number(row["out"], fname, line, "out", problems)
        _in_scale(out, _DEU_LOW, _DEU_HIGH, fname, line, "out", problems)
        rp = _number(row.get("rp", ""), fname, line, "rp", problems)
        _in_scale(rp, _DEU_LOW, _DEU_HIGH, fname, line, "rp", problems)
        info[key] = _IssueRow(line, row, out, rp)
    return info


def _deu_position_rows(rows: list[tuple[int, dict[str, str]]], info: dict[str, _IssueRow], fname: str,
                       problems: list[Problem]) -> dict[str, list[_PositionRow]]:
    """``positions.csv``: each issue's rows, in file order (unknown issues, missing actors and
    duplicate rows are problems; so are values that are not numbers or leave the 0-100 scale)."""
    per_issue: dict[str, list[_PositionRow]] = {k: [] for k in info}
    seen: dict[tuple[str, str], int] = {}
    for line, row in rows:
        key, actor = row["isnr"], row["actor"]
        if key not in info:
            problems.append(Problem(fname, line, "isnr", f"issue {short(key)} is not in issues.csv"))
            continue
        if not actor:
            problems.append(Problem(fname, line, "actor", "actor code is missing"))
            continue
        if (key, actor) in seen:
            problems.append(Problem(fname, line, "actor", f"duplicate row for {key}/{actor} (first on line {seen[key, actor]})"))
            continue
        seen[key, actor] = line
        x = _number(row["position"], fname, line, "position", problems)
        s = _number(row["salience"], fname, line, "salience", problems)
        _in_scale(x, _DEU_LOW, _DEU_HIGH, fname, line, "position", problems)
        _in_scale(s, 0.0, 100.0, fname, line, "salience", problems)
        per_issue[key].append((actor, row.get("actor_name", "") or actor, x, s))
    return per_issue


def _deu_gdp(rows: list[tuple[int, dict[str, str]]], fname: str, problems: list[Problem]) -> dict[str, float]:
    """``gdp_capability.csv``: GDP per actor code from its first ``gdp...`` column (positive)."""
    gdp: dict[str, float] = {}
    col = next((c for c in (rows[0][1].keys() if rows else []) if c.startswith("gdp")), None)
    if col is None:
        return gdp
    for line, row in rows:
        v = _number(row[col], fname, line, col, problems)
        if not math.isnan(v):
            if v <= 0:
                problems.append(Problem(fname, line, col, "GDP must be positive"))
            gdp[row["actor"]] = v
    return gdp


def _check_deu_weights(rows: list[tuple[int, dict[str, str]]], fname: str, problems: list[Problem]) -> None:
    """``council_weights.csv``: every cell but ``id`` and ``name`` a positive number (or blank)."""
    for line, row in rows:
        for col, text in row.items():
            if col in ("id", "name"):
                continue
            v = _number(text, fname, line, col, problems)
            if not math.isnan(v) and v <= 0:
                problems.append(Problem(fname, line, col, "weights must be positive"))


def _deu_issue(key: str, info: _IssueRow, rows: list[_PositionRow], min_actors: int) -> Issue | str:
    """One checked issue as an :class:`Issue`, or why it cannot be scored."""
    counted = [r for r in rows if not math.isnan(r[2]) and not math.isnan(r[3])]
    if math.isnan(info.out):
        return "no outcome"
    if len(counted) < min_actors:
        return f"{len(counted)} actor(s) with both a position and a salience (need {min_actors})"
    row = info.row
    meta = {
        "wave": row.get("wave", ""),
        "proc": row.get("proc", ""),
        "rule": normalise_rule(row.get("counvte", "")),
        "type": row.get("type", ""),
    }
    for extra in ("counvte", "council", "prnr", "proccde", "intro_date", "final_act_date"):
        if extra in row:
            meta[extra] = row[extra]
    codes = tuple(a for a, _, _, _ in counted)
    roles = {r: c for r, c in (("commission", "com"), ("parliament", "ep")) if c in codes}
    return Issue(
        key=key,
        outcome=info.out,
        actors=codes,
        names=tuple(nm for _, nm, _, _ in counted),
        position=np.array([x for _, _, x, _ in counted]),
        salience=np.array([sv for _, _, _, sv in counted]) / 100.0,
        low=_DEU_LOW,
        high=_DEU_HIGH,
        status_quo=info.rp,
        meta=meta,
        roles=roles,
        line=info.line,
    )


# ---------------------------------------------------------------------------
# generic outcomes format


def load_scenario_inputs(path: Path) -> tuple[list[str], list[str], Any]:
    """Read one scenario file: ``(actor keys, issue keys, Inputs)``.

    The single adapter between the backtest and the scenario loader: it calls
    :func:`detente.load` and ``Scenario.to_inputs()``.

    Raises
    ------
    DatasetError
        When the scenario does not load, with the loader's problems.
    """
    from ..engine import load

    try:
        scenario = load(path)
    except DetenteError as exc:  # the loader's one way of refusing input (a ScenarioError)
        raise DatasetError(list(exc.problems)) from None
    return list(scenario.actor_keys), list(scenario.issue_keys), scenario.to_inputs()


@bounded
def load_outcomes(path: str | Path, *, min_actors: int = MIN_ACTORS, scenario_reader: Any = None) -> Dataset:
    """Read a folder of scenarios with an ``outcomes.csv``.

    ``outcomes.csv`` columns: ``scenario`` (a file name relative to the folder),
    ``issue`` (the issue key in that scenario, or its 1-based number), ``outcome``
    (on the issue's scale); optional ``wave``, ``proc``, ``rule``, ``type`` for
    the breakdowns. Capabilities come from the scenarios.

    Parameters
    ----------
    path : str or Path
        The folder.
    min_actors : int
        Issues with fewer active actors having a salience are skipped.
    scenario_reader : callable, optional
        ``path -> (actor keys, issue keys, Inputs)``; :func:`load_scenario_inputs`
        by default (tests may pass their own).
    """
    folder = Path(path)
    reader = scenario_reader or load_scenario_inputs
    problems: list[Problem] = []
    if not folder.is_dir():
        raise DatasetError([Problem(str(folder), None, "", "dataset folder not found")])
    rows = _read_csv(folder / "outcomes.csv", _OUTCOME_COLUMNS, problems)
    if problems:
        raise DatasetError(problems)
    assert rows is not None
    fo = str(folder / "outcomes.csv")
    cache: dict[str, Any] = {}
    issues: list[Issue] = []
    skipped: list[dict[str, Any]] = []
    for line, row in rows:
        sfile = row["scenario"]
        if not sfile:
            problems.append(Problem(fo, line, "scenario", "scenario file is missing"))
            continue
        spath, why = path_inside(folder, sfile)
        if spath is None:
            problems.append(Problem(fo, line, "scenario", f"scenario file {short(sfile)} must be inside the dataset folder: {why}"))
            continue
        if sfile not in cache:
            if not spath.is_file():
                problems.append(Problem(fo, line, "scenario", f"scenario file {short(sfile)} not found"))
                cache[sfile] = None
                continue
            try:
                cache[sfile] = reader(spath)
            except DatasetError as exc:
                problems.extend(exc.problems)
                cache[sfile] = None
                continue
        if cache[sfile] is None:
            continue
        actors, keys, inp = cache[sfile]
        d = _issue_index(row["issue"], keys, inp.shape[2])
        if d is None:
            problems.append(Problem(fo, line, "issue", f"no issue {short(row['issue'])} in {sfile}"))
            continue
        out = _number(row["outcome"], fo, line, "outcome", problems)
        lo, hi = float(inp.low[d]), float(inp.high[d])
        _in_scale(out, lo, hi, fo, line, "outcome", problems)
        key = f"{sfile}#{keys[d] if d < len(keys) else d + 1}"
        act = np.asarray(inp.active[0], bool)
        x = np.asarray(inp.position[0, :, d], float)
        s = np.asarray(inp.salience[0, :, d], float)
        ok = act & np.isfinite(x) & np.isfinite(s)
        if not ok.any():
            problems.append(Problem(fo, line, "issue", f"issue {short(row['issue'])} of {sfile} has no positions"))
            continue
        if math.isnan(out):
            skipped.append({"issue": key, "file": fo, "line": line, "reason": "no outcome", "wave": row.get("wave", "")})
            continue
        if int(ok.sum()) < min_actors:
            skipped.append(
                {"issue": key, "file": fo, "line": line, "reason": f"{int(ok.sum())} active actor(s) (need {min_actors})",
                 "wave": row.get("wave", "")}
            )
            continue
        names = [actors[i] if i < len(actors) else f"actor{i + 1}" for i in range(len(x))]
        meta = {k: row.get(k, "") for k in ("wave", "proc", "rule", "type")}
        meta["rule"] = normalise_rule(meta["rule"])
        meta["scenario"] = sfile
        issues.append(
            Issue(
                key=key,
                outcome=out,
                actors=tuple(n for n, k in zip(names, ok) if k),
                names=tuple(n for n, k in zip(names, ok) if k),
                position=x[ok],
                salience=s[ok],
                low=lo,
                high=hi,
                status_quo=float(inp.status_quo[d]),
                meta=meta,
                capability=np.asarray(inp.capability[0], float)[ok],
                line=line,
            )
        )
    if problems:
        raise DatasetError(problems)
    return Dataset(name="outcomes", path=str(folder), issues=issues, skipped=skipped, n_total=len(rows))


def _issue_index(text: str, keys: list[str], D: int) -> int | None:
    if text in keys:
        return keys.index(text)
    try:
        i = int(text)
    except ValueError:
        return None
    return i - 1 if 1 <= i <= D else None


def load_dataset(dataset: str = "deu", data: str | Path | None = None) -> Dataset:
    """A dataset by name: ``deu`` (optionally another copy at ``data``) or ``outcomes``.

    A path given as ``dataset`` is read as an outcomes folder when it holds an
    ``outcomes.csv``, else as a DEU-layout folder.
    """
    if dataset == "deu":
        return load_deu(data)
    if dataset == "outcomes":
        if data is None:
            raise DatasetError([Problem(None, None, "data", "the outcomes format needs --data PATH")])
        return load_outcomes(data)
    p = Path(dataset)
    if p.is_dir():
        return load_outcomes(p) if (p / "outcomes.csv").is_file() else load_deu(p)
    raise DatasetError([Problem(None, None, "dataset", f"unknown dataset {dataset!r}; use 'deu', 'outcomes' or a folder")])
