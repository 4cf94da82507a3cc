"""Reading and writing scenario files: the entry point :func:`load`, and the readers' public names.

The work is split by job: :mod:`.nodes` (located raw values), :mod:`.yaml_reader`
(YAML/JSON), :mod:`.table` (CSV stakeholder tables), :mod:`.documents` (one file,
by format), :mod:`.variants` (``extends:``), :mod:`.registry` (shipped scenarios),
:mod:`.writers` (YAML, CSV, dict); the rules live in :mod:`.schema`, and
:mod:`.validate` maps their problems to file and line.
"""

from __future__ import annotations

from typing import Any

from .._parse import bounded, short, suggest
from ..errors import Problem, ScenarioError
from .documents import read_document
from .nodes import Loc, Node, NodeList, checked_node
from .registry import resolve_path, shipped, shipped_dir
from .schema import Scenario
from .table import read_csv_table, read_table
from .validate import validate
from .variants import Sandbox, merge, read_raw, resolve_extends
from .writers import FORMATS, dump, dump_csv, dump_json, dump_xlsx, dump_yaml, scenario_to_dict
from .yaml_reader import parse_json, parse_yaml

__all__ = [
    "FORMATS", "Loc", "Node", "NodeList", "Sandbox", "dump", "dump_csv", "dump_json", "dump_xlsx", "dump_yaml",
    "load", "merge", "parse_json", "parse_yaml",
    "read_csv_table", "read_document", "read_raw", "resolve_extends", "resolve_path", "scenario_to_dict", "shipped",
    "shipped_dir",
]


@bounded
def load(source: Any, *, name: str | None = None, sandbox: Sandbox = "files", salience_scale: int | None = None):
    """Load and validate a scenario.

    Parameters
    ----------
    source : str, Path, dict, Scenario or pandas.DataFrame
        A file (``.yaml``/``.yml``, ``.json``, a stakeholder table ``.csv``/``.tsv``/``.txt``,
        an Excel workbook ``.xlsx``, KTAB ``.csv``/``.xml``, a Decide file), the name of a
        shipped example scenario (see ``detente scenarios``), a dict in the scenario schema
        (which may ``extends:`` only a shipped scenario), or a DataFrame in the stakeholder
        table layout (the columns of a CSV table).
    sandbox : {"files", "shipped"}
        Where a file's ``extends:`` may reach (see :data:`Sandbox`).
    salience_scale : {1, 100}, optional
        The scale the saliences are written on, for a table that does not say (its
        salience column is not named ``salience_0_1``); for a YAML/JSON file it must
        agree with the file's own ``salience_scale``.

    Returns
    -------
    Scenario
        What the reader noted (a guessed encoding, a column mapped or ignored) is in
        ``scenario.reading_notes``.

    Raises
    ------
    ScenarioError
        With every problem found, each naming file, line, field and reason.
    """
    if salience_scale is not None and (type(salience_scale) is not int or salience_scale not in (1, 100)):
        raise ScenarioError([Problem(None, None, "salience_scale", f"must be 1 or 100, got {short(salience_scale)}")])
    if isinstance(source, Scenario):
        return source if source.validated else _revalidated(source)
    if isinstance(source, dict):
        raw = source if isinstance(source, Node) else checked_node(source, None)
        raw = _with_scale(resolve_extends(raw, None, sandbox="shipped", salience_scale=salience_scale), None, salience_scale)
        return validate(raw, None)
    if _is_frame(source):
        raw = read_frame(source, salience_scale=salience_scale, name=name)
        return validate(raw, None, reading_notes=list(getattr(raw, "notes", [])))
    path = resolve_path(source)
    if not path.exists() and isinstance(source, str) and "/" not in source and "\\" not in source:
        near = suggest(source, [p.stem for p in shipped()])
        if near is not None:
            raise ScenarioError([Problem(source, None, "", f"file not found, and no shipped scenario of that name; "
                                                           f"did you mean `{near}`? (`detente scenarios` lists them)")])
    raw = _with_scale(read_raw(path, sandbox=sandbox, salience_scale=salience_scale), str(path), salience_scale)
    return validate(raw, str(path), source_file=str(path), reading_notes=list(getattr(raw, "notes", [])),
                    **({"name": name} if name else {}))


def _with_scale(raw: Any, file: str | None, scale: int | None) -> Any:
    """``raw`` with the salience scale the caller declared (a problem when the file says another)."""
    if scale is None or not isinstance(raw, dict):
        return raw
    own = raw.get("salience_scale")
    if own is None:
        raw["salience_scale"] = scale
    elif own != scale:
        loc = getattr(raw, "locs", {}).get("salience_scale", (file, None))
        raise ScenarioError([Problem(loc[0] or file, loc[1], "salience_scale",
                                     f"the file says {short(own)}, the option says {scale}: drop one")])
    return raw


def _is_frame(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "pandas" and hasattr(x, "columns") and hasattr(x, "itertuples")


def read_frame(df: Any, *, salience_scale: int | None = None, name: str | None = None) -> Node:
    """A pandas DataFrame in the stakeholder-table layout (the columns of a CSV table) as a raw scenario.

    Bounded like a file: ``max_rows`` rows, ``max_field_chars`` per cell. Each row's line
    is its position in the frame plus one (the header is line 1).
    """
    from .._parse import limit, over_limit

    label = "<DataFrame>"
    if len(df) + 1 > limit("max_rows"):
        raise ScenarioError([Problem(label, None, "", over_limit("max_rows", f"the frame has {len(df)} rows"))])
    cap = limit("max_field_chars")
    rows: list[tuple[int, list[str]]] = [(1, [str(c) for c in df.columns])]
    for n, tup in enumerate(df.itertuples(index=False, name=None), start=2):
        cells = [_frame_cell(v) for v in tup]
        if any(len(c) > cap for c in cells):
            raise ScenarioError([Problem(label, n, "", over_limit("max_field_chars", "a cell is too long"))])
        rows.append((n, cells))
    raw = read_table([r for r in rows if any(c.strip() for c in r[1])], label, stem=name or "table",
                     salience_scale=salience_scale)
    return raw


def _frame_cell(v: Any) -> str:
    from .._xlsx import cell_text

    if v is None or (isinstance(v, float) and v != v):  # NaN: a blank cell
        return ""
    if hasattr(v, "item") and not isinstance(v, str):  # a numpy scalar
        try:
            v = v.item()
        except (ValueError, TypeError):
            pass
    if hasattr(v, "to_pydatetime"):
        v = v.to_pydatetime()
    return cell_text(v)


def _revalidated(s: Scenario) -> Scenario:
    """A scenario that skipped validation (``model_copy``, ``model_construct``), validated whole."""
    try:
        raw = s.model_dump(warnings=False)
    except Exception as e:  # a value built without validation may hold anything
        raise ScenarioError([Problem(None, None, "", f"not a valid scenario value: {e}")]) from None
    return validate(checked_node(raw, None), None, source_file=s.source_file)
