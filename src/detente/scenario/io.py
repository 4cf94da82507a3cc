"""Reading and writing scenario files: the entry point :func:`load`, and the readers' public names.

The work is split by job: :mod:`.nodes` (located raw values), :mod:`.yaml_reader`
(YAML/JSON), :mod:`.table` (CSV stakeholder tables), :mod:`.documents` (one file,
by format), :mod:`.variants` (``extends:``), :mod:`.registry` (shipped scenarios),
:mod:`.writers` (YAML, CSV, dict); the rules live in :mod:`.schema`, and
:mod:`.validate` maps their problems to file and line.
"""

from __future__ import annotations

from typing import Any

from .._parse import bounded, suggest
from ..errors import Problem, ScenarioError
from .documents import read_document
from .nodes import Loc, Node, NodeList, checked_node
from .registry import resolve_path, shipped, shipped_dir
from .schema import Scenario
from .table import read_csv_table
from .validate import validate
from .variants import Sandbox, merge, read_raw, resolve_extends
from .writers import dump_csv, dump_yaml, scenario_to_dict
from .yaml_reader import parse_json, parse_yaml

__all__ = [
    "Loc", "Node", "NodeList", "Sandbox", "dump_csv", "dump_yaml", "load", "merge", "parse_json", "parse_yaml",
    "read_csv_table", "read_document", "read_raw", "resolve_extends", "resolve_path", "scenario_to_dict", "shipped",
    "shipped_dir",
]


@bounded
def load(source: Any, *, name: str | None = None, sandbox: Sandbox = "files"):
    """Load and validate a scenario.

    Parameters
    ----------
    source : str, Path, dict or Scenario
        A file (``.yaml``/``.yml``, ``.json``, ``.csv`` stakeholder table or
        KTAB ``.csv``/``.xml``), the name of a shipped example scenario (see
        ``detente scenarios``), or a dict in the scenario schema (which may
        ``extends:`` only a shipped scenario).
    sandbox : {"files", "shipped"}
        Where a file's ``extends:`` may reach (see :data:`Sandbox`).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        With every problem found, each naming file, line, field and reason.
    """
    if isinstance(source, Scenario):
        return source if source.validated else _revalidated(source)
    if isinstance(source, dict):
        raw = source if isinstance(source, Node) else checked_node(source, None)
        return validate(resolve_extends(raw, None, sandbox="shipped"), None)
    path = resolve_path(source)
    if not path.exists() and isinstance(source, str) and "/" not in source and "\\" not in source:
        near = suggest(source, [p.stem for p in shipped()])
        if near is not None:
            raise ScenarioError([Problem(source, None, "", f"file not found, and no shipped scenario of that name; "
                                                           f"did you mean `{near}`? (`detente scenarios` lists them)")])
    raw = read_raw(path, sandbox=sandbox)
    return validate(raw, str(path), source_file=str(path), **({"name": name} if name else {}))


def _revalidated(s: Scenario) -> Scenario:
    """A scenario that skipped validation (``model_copy``, ``model_construct``), validated whole."""
    try:
        raw = s.model_dump(warnings=False)
    except Exception as e:  # a value built without validation may hold anything
        raise ScenarioError([Problem(None, None, "", f"not a valid scenario value: {e}")]) from None
    return validate(checked_node(raw, None), None, source_file=s.source_file)
