"""detente: forecast negotiations and collective decisions.

>>> import detente
>>> s = detente.load("korea-2019")                 # a shipped example, a file, or a dict
>>> r = detente.forecast(s, model="compromise")
>>> r.issues["deal"]["forecast"]                    # doctest: +SKIP
"""

__version__ = "0.1.0"

from .api import forecast, load, model_params  # noqa: E402
from .errors import DetenteError, Problem, ScenarioError  # noqa: E402
from .result import Result  # noqa: E402
from .scenario import Scenario  # noqa: E402
from .analysis import advise, compare, monte_carlo, sensitivity  # noqa: E402

__all__ = ["__version__", "load", "forecast", "model_params", "Result", "Scenario", "DetenteError", "ScenarioError", "Problem", "monte_carlo", "sensitivity", "advise", "compare"]
