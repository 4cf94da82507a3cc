"""The "What happened" section of the shipped scenarios' reports, computed when detente is built.

The section (every model scored against the record, the model's explanation: about five CPU seconds,
most of it the explanation's search of some 15,000 model runs) is a function of its inputs alone:
the scenario (its record included), the model and its parameters, the draws, the seed, the
registered models, and the code and data that compute it (every step is seeded). For the shipped
scenarios' usual reports those inputs are all shipped, so the section is computed once, when this
version is built, and shipped in ``shipped_record.json`` beside this module; a report whose inputs
match one of its entries exactly takes the entry instead of computing it again.

An entry counts only when everything it depends on is what it was computed with: the scenario's
whole content (a hash of it, record included), the model, the parameters as given, the draws, the
seed, the registered models' names, numpy's and scipy's versions, and a hash of detente's sources
that compute it (every module outside the presentation and interface layers, plus
``report/record.py`` and the shipped calibration table). Any change there and the report computes
the section as before. This is not a cache of the user's runs: nothing is written at run time.

``python -m detente.report._shipped`` recomputes the section of every report the file lists (``reports``)
and writes the file;
``tests/test_report_shipped.py`` recomputes them and compares (it fails, naming this command, when
the file is stale).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("shipped_record.json")
_PACKAGE = Path(__file__).resolve().parent.parent
#: Folders of the package whose code does not compute the section (presentation, interfaces).
_NOT_COMPUTING = ("report", "cli", "web")
#: ... except these files of them.
_COMPUTING = ("report/record.py", "data/calibration.json")



def reports() -> list[tuple[str, str | None, int, int]]:
    """The reports whose section ships, as the file lists them (``reports``, data: which scenarios and models):
    (scenario, model or None for the scenario's own, draws, seed), no parameters. Draws 0 scores with the
    score's own draws (``SCORE_DRAWS``)."""
    return [(r["scenario"], r["model"], int(r["draws"]), int(r["seed"])) for r in _entries().get("reports", [])]


@lru_cache(maxsize=1)
def source_sha256() -> str:
    """A hash of the package's files that compute the section (see the module's docstring)."""
    h = hashlib.sha256()
    files = [p for p in _PACKAGE.rglob("*.py")
             if p.relative_to(_PACKAGE).parts[0] not in _NOT_COMPUTING]
    files += [_PACKAGE / f for f in _COMPUTING]
    for p in sorted(set(files), key=lambda p: p.relative_to(_PACKAGE).as_posix()):
        h.update(p.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        try:
            h.update(p.read_bytes())
        except OSError:
            h.update(b"\1missing")
        h.update(b"\0")
    return h.hexdigest()


def _environment() -> dict[str, Any]:
    import numpy
    import scipy

    from .. import models as registry
    from .._version import __version__

    return {"detente": __version__, "source_sha256": source_sha256(), "numpy": numpy.__version__,
            "scipy": scipy.__version__, "models": list(registry.names())}


def scenario_sha256(scen: Any) -> str:
    """A hash of the scenario's whole content, its record included."""
    blob = json.dumps(scen.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _keys(scen: Any, model: str, params: dict[str, Any], draws: int, seed: int,
          scen_hash: str | None = None) -> tuple[dict, dict]:
    """The keys of the section's score and explanation: everything each depends on (``scen_hash``: the
    scenario's :func:`scenario_sha256`, when the caller has it already)."""
    if not draws:  # the score's own draws (imported only then: a report with draws looks up before any analysis)
        from ..analysis.score import SCORE_DRAWS

        draws = SCORE_DRAWS
    common = {**_environment(), "scenario_sha256": scen_hash or scenario_sha256(scen), "model": model,
              "params": json.loads(json.dumps(params, sort_keys=True)), "seed": int(seed)}
    return {**common, "draws": int(draws)}, common


@lru_cache(maxsize=1)
def _entries() -> dict[str, Any]:
    try:
        return json.loads(PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"score": [], "explain": []}


def lookup(scen: Any, model: str, params: dict[str, Any], draws: int, seed: int | None) -> dict[str, Any] | None:
    """The shipped section (``{"score", "explain"}``, as :func:`detente.report.record.record_data` computes it)
    for exactly these inputs, or None."""
    shipped = _entries()
    # most reports are of the user's own scenario: rule them out by its hash before hashing detente's sources
    scen_hash = scenario_sha256(scen)
    if not any(e["key"].get("scenario_sha256") == scen_hash for e in shipped.get("score", [])):
        return None
    score_key, explain_key = _keys(scen, model, params, draws, int(seed or 0), scen_hash)
    sc = next((e["value"] for e in shipped["score"] if e["key"] == score_key), None)
    ex = next((e["value"] for e in shipped["explain"] if e["key"] == explain_key), None)
    if sc is None or ex is None:
        return None
    return {"score": sc, "explain": ex}


def compute_entries() -> dict[str, Any]:
    """Every entry of the reports listed (:func:`reports`), computed now (the file's content)."""
    from ..api import load
    from ..engine import resolve_model
    from .record import record_explain, record_score

    out: dict[str, Any] = {"about": "detente/report/_shipped.py: the report's record section of the shipped "
                                    "scenarios; regenerate with python -m detente.report._shipped",
                           "reports": [{"scenario": n, "model": m, "draws": d, "seed": sd} for n, m, d, sd in reports()],
                           "score": [], "explain": []}
    for name, model_, draws, seed in reports():
        scen = load(name)
        model, params = resolve_model(scen, model_, {})
        sk, ek = _keys(scen, model, params, draws, seed)
        if not any(e["key"] == sk for e in out["score"]):
            out["score"].append({"key": sk, "value": record_score(scen, model, dict(params), draws=draws, seed=seed,
                                                                   budget=None)})
        if not any(e["key"] == ek for e in out["explain"]):
            out["explain"].append({"key": ek, "value": record_explain(scen, model, dict(params), seed=seed,
                                                                       budget=None)})
    return json.loads(json.dumps(out))  # as read back from the file


def write() -> Path:
    """Recompute every entry and write :data:`PATH`."""
    PATH.write_text(json.dumps(compute_entries(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    _entries.cache_clear()
    return PATH


if __name__ == "__main__":
    print(f"wrote {write()}")
