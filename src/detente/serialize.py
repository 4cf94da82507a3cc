"""One JSON serialiser for every result type, the CLI, the web app and the report.

Strict JSON only: numpy scalars and arrays become Python numbers and lists, non-finite floats
become ``null``, pydantic models their JSON dump, dates and other objects their text.
"""
from __future__ import annotations

import abc
import csv
import datetime as _dt
import hashlib
import io
import json
import math
from typing import Any

import numpy as np


def finite(x: Any) -> float | None:
    """A JSON-safe float: NaN and infinities become ``None``."""
    x = float(x)
    return x if math.isfinite(x) else None


def json_value(v: Any) -> Any:
    """One numpy or Python scalar as a plain JSON value (non-finite floats become ``None``)."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (float, np.floating)):
        return finite(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def jsonable(x: Any) -> Any:
    """``x`` as strict JSON data, recursively (dict keys become text)."""
    if x is None or isinstance(x, (str, bool)):
        return x
    if isinstance(x, (int, float, np.generic)) and not isinstance(x, (np.str_, np.bytes_)):
        return json_value(x.item() if isinstance(x, np.generic) else x)
    if isinstance(x, dict):
        return {k if isinstance(k, str) else _key(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [jsonable(v) for v in x.tolist()]
    if hasattr(x, "model_dump"):  # pydantic
        return jsonable(x.model_dump(mode="json"))
    if isinstance(x, (_dt.date, _dt.datetime)):
        return x.isoformat()
    return str(x)


def _key(k: Any) -> str:
    if isinstance(k, bool) or k is None:
        return json.dumps(k)
    return str(k)


def dumps(data: Any, indent: int | None = 2, ensure_ascii: bool = False) -> str:
    """``data`` as strict JSON text (never ``NaN`` or ``Infinity``)."""
    return json.dumps(jsonable(data), indent=indent, ensure_ascii=ensure_ascii, allow_nan=False)


class JsonResult(abc.ABC):
    """Base of every result type with a JSON contract: ``to_json`` is :meth:`to_dict` through :func:`dumps`.

    A subclass defines ``to_dict`` (a subclass without one cannot be instantiated);
    ``JSON_ASCII = True`` escapes every non-ASCII character.
    """

    JSON_ASCII = False

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict: the contract ``to_json`` writes."""

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as strict JSON text."""
        return dumps(self.to_dict(), indent=indent, ensure_ascii=self.JSON_ASCII)


def threshold_probability(x: np.ndarray, value: float, direction: str) -> float:
    """Share of draws at or above (``above``) or at or below (``below``) ``value``.

    The one definition the Monte Carlo result, the report and the web app share.
    """
    return float(np.mean(x >= value) if direction == "above" else np.mean(x <= value))


def meta(seed: int | None, *, notes: Any = None, **fields: Any) -> dict[str, Any]:
    """The common ``meta`` block of every result: ``version``, ``seed``, then ``fields`` in the
    order given (``input_sha256``, ``draws``...), then ``notes`` when given."""
    from ._version import __version__

    out: dict[str, Any] = {"version": __version__, "seed": seed, **fields}
    if notes is not None:
        out["notes"] = list(notes)
    return out


def input_sha256(scenario: Any) -> str:
    """A stable hash of a scenario's inputs (not of its file's formatting, nor of its record of what happened)."""
    blob = json.dumps(scenario.model_dump(mode="json", exclude={"record"}), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


#: The columns of :func:`history_csv` (those of ``Result.to_frame``).
HISTORY_COLUMNS = ("round", "actor", "issue", "position", "forecast")


def history_rows(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Positions by round from a result's JSON contract (``Result.to_dict()``, stored or fresh):
    one ``(round, actor, issue, position, forecast)`` row per actor and issue, as ``Result.to_frame``."""
    return [(h["round"], actor, issue, x, h["forecast"].get(issue))
            for h in result["history"] for actor, pos in h["positions"].items() for issue, x in pos.items()]


def history_csv(result: dict[str, Any]) -> str:
    """:func:`history_rows` as CSV text with a header line (missing values empty)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HISTORY_COLUMNS)
    w.writerows(history_rows(result))
    return buf.getvalue()


#: The columns of :func:`draws_csv` (those of ``MonteCarloResult.to_frame``).
DRAWS_COLUMNS = ("draw", "issue", "forecast")


def draws_csv(finals: dict[str, list[float]]) -> str:
    """Every Monte Carlo draw's final forecast, ``{issue: [one value per draw]}`` in issue order, as CSV
    text: one ``draw,issue,forecast`` row per draw and issue, draw by draw (as ``detente forecast --draws
    N --format csv``), so the median of each issue's rows is the run's headline."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(DRAWS_COLUMNS)
    keys = list(finals)
    n = min((len(v) for v in finals.values()), default=0)
    w.writerows((b, k, finals[k][b]) for b in range(n) for k in keys)
    return buf.getvalue()
