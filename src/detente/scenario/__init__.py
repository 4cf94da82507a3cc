"""Scenarios: the typed, validated description of a negotiation.

Parsing and validation live here, at the edge. :func:`load` reads YAML, JSON,
stakeholder tables (CSV, TSV, Excel workbooks), KTAB and Decide files and returns a :class:`Scenario`;
:meth:`Scenario.to_inputs` turns it into the plain arrays the models run on.
"""

from .io import FORMATS, dump, dump_csv, dump_json, dump_xlsx, dump_yaml, load, read_raw
from .schema import Actor, Calendar, Event, Issue, Scenario, Threshold, Value

__all__ = [
    "Actor",
    "Calendar",
    "Event",
    "Issue",
    "Scenario",
    "Threshold",
    "Value",
    "load",
    "read_raw",
    "dump",
    "dump_csv",
    "dump_json",
    "dump_xlsx",
    "dump_yaml",
    "FORMATS",
]
