"""The analyst's questions about a scenario, each through the model protocol.

* :func:`monte_carlo` -- the forecast's distribution over ranged inputs and events;
* :func:`sensitivity` -- which inputs drive the forecast (one at a time, or Sobol);
* :func:`advise` -- which lever moves the forecast most toward an actor's position;
* :func:`compare` -- scenarios and models side by side, and what differs between them;
* :func:`score` -- every model's forecast against what actually happened (the scenario's record);
* :func:`explain` -- the smallest change to the inputs that makes a model reproduce an outcome.

Every function runs models only through :func:`detente.simulate.simulate`.
"""

from __future__ import annotations

from .advice import Advice, advise
from .compare import Comparison, compare, diff_scenarios
from .explain import Explanation, explain
from .montecarlo import EventEffect, MonteCarloResult, event_effect, monte_carlo
from .score import ScoreResult, score
from .sensitivity import SensitivityResult, sensitivity

__all__ = [
    "monte_carlo",
    "MonteCarloResult",
    "event_effect",
    "EventEffect",
    "sensitivity",
    "SensitivityResult",
    "advise",
    "Advice",
    "compare",
    "Comparison",
    "diff_scenarios",
    "score",
    "ScoreResult",
    "explain",
    "Explanation",
]
