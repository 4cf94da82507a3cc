"""One scenario file read into raw located values, by format (YAML, JSON, stakeholder table, workbook, KTAB, Decide)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._parse import read_text
from ..errors import Problem, ScenarioError
from .nodes import as_node
from .table import read_csv_table
from .yaml_reader import parse_json, parse_yaml

#: The suffixes of the stakeholder tables (and Decide files) read as delimited text.
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
#: The suffixes of Excel workbooks.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


def read_document(path: str | Path, *, salience_scale: int | None = None) -> Any:
    """One scenario file read into a raw (unvalidated) value with line locations, ``extends:`` not resolved.

    The format follows the suffix: ``.xlsx`` a workbook, ``.csv``/``.tsv``/``.txt`` a
    stakeholder table (or a KTAB CSV, or a Decide file, each recognised by its content),
    ``.xml`` KTAB XML, ``.json`` JSON, anything else YAML. ``salience_scale`` declares
    the scale of a table's saliences (see :func:`~detente.scenario.table.read_table`).
    What a reader noted (a guessed encoding, a mapped column) rides on the result as ``.notes``.
    """
    p = Path(path)
    file = str(p)
    suffix = p.suffix.lower()
    try:
        if suffix in WORKBOOK_SUFFIXES:
            from .xlsx import read_workbook

            return read_workbook(p, salience_scale=salience_scale)
        text = read_text(p)
        if not text.strip():
            raise ScenarioError([Problem(file, None, "", "the file is empty")])
        if suffix in TABLE_SUFFIXES:
            from . import decide

            if decide.looks_like_decide(p):
                return as_node(decide.read_decide(p), file)
        if suffix == ".csv":
            from . import ktab

            if ktab.looks_like_ktab_csv(p):
                return as_node(ktab.read_ktab_csv(p), file)
        if suffix in TABLE_SUFFIXES:
            return read_csv_table(p, salience_scale=salience_scale)
        if suffix == ".xml":
            from . import ktab

            return as_node(ktab.read_ktab_xml(p), file)
    except ScenarioError as e:  # every problem names the file, also those a table reader raised without it
        if any(q.file is None for q in e.problems):
            raise ScenarioError([q if q.file else Problem(file, q.line, q.field, q.reason) for q in e.problems]) from None
        raise
    raw = parse_json(text, file) if suffix == ".json" else parse_yaml(text, file)
    if raw is None:
        raise ScenarioError([Problem(file, None, "", "the file is empty")])
    if not isinstance(raw, dict):
        raise ScenarioError([Problem(file, 1, "", "a scenario file must be a mapping (name:, issues:, actors:, ...)")])
    return raw
