"""What happened: every model scored against a scenario's record, and the smallest change that explains it.

Plain functions (no FastAPI), as :mod:`detente.web.routes.record` calls them on the worker pool.
"""

from __future__ import annotations

from typing import Any

from ...serialize import jsonable
from ..schemas import RecordRequest
from .scenarios import load_input

#: Monte Carlo draws per model when the request asks for none.
SCORE_DRAWS = 200


def score(req: RecordRequest, budget: Any) -> dict[str, Any]:
    """Every model (or those asked) against the record (``detente score``): ``{scenario, score}``."""
    from ...analysis import score as score_models

    scen, _ = load_input(req)
    own = req.model or None
    params = {own: dict(req.params)} if own and req.params else None
    res = score_models(scen, req.models, outcome=req.outcome, draws=req.draws or SCORE_DRAWS, seed=req.seed or 0,
                       params=params, progress=False, budget=budget)
    return {"scenario": scen.name, "score": jsonable(res.to_dict())}


def explain(req: RecordRequest, budget: Any) -> dict[str, Any]:
    """The smallest change that makes the model reproduce the outcome (``detente explain``): ``{scenario, explanation}``."""
    from ...analysis import explain as explain_outcome

    scen, _ = load_input(req)
    res = explain_outcome(scen, req.outcome, req.model or None, seed=req.seed or 0, params=dict(req.params),
                          budget=budget)
    return {"scenario": scen.name, "explanation": jsonable(res.to_dict())}
