"""What happened: every model scored against a scenario's record, and the smallest change that explains it.

Plain functions (no FastAPI), as :mod:`detente.web.routes.record` calls them on the worker pool.
"""

from __future__ import annotations

from typing import Any

from ...analysis.score import SCORE_DRAWS  # when the request does not say (``draws: 0``: point forecasts only)
from ...serialize import jsonable
from ..schemas import RecordRequest
from .scenarios import load_input


def score(req: RecordRequest, budget: Any) -> dict[str, Any]:
    """Every model (or those asked) against the record (``detente score``): ``{scenario, score}``."""
    from ...analysis import score as score_models
    from ...engine import resolve_model, scenario_seed

    scen, _ = load_input(req)
    params = None
    if req.params:  # the parameters go to the model they were given for: the one named, else the scenario's own
        own, own_params = resolve_model(scen, req.model or None, dict(req.params))
        params = {own: own_params}
    draws = req.draws if "draws" in req.model_fields_set else SCORE_DRAWS
    res = score_models(scen, req.models, outcome=req.outcome, draws=draws, seed=scenario_seed(scen, req.seed),
                       params=params, progress=False, budget=budget)
    return {"scenario": scen.name, "score": jsonable(res.to_dict())}


def explain(req: RecordRequest, budget: Any) -> dict[str, Any]:
    """The smallest change that makes the model reproduce the outcome (``detente explain``): ``{scenario, explanation}``."""
    from ...analysis import explain as explain_outcome

    scen, _ = load_input(req)
    from ...engine import scenario_seed

    res = explain_outcome(scen, req.outcome, req.model or None, seed=scenario_seed(scen, req.seed), params=dict(req.params),
                          budget=budget)
    return {"scenario": scen.name, "explanation": jsonable(res.to_dict())}
