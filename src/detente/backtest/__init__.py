"""Backtesting: score every model against real decisions (DEU, or our own outcomes format).

>>> from detente.backtest import run_backtest
>>> res = run_backtest("deu", models=["compromise", "mean"])   # doctest: +SKIP
>>> res.mae("compromise")                                       # doctest: +SKIP

See ``docs/backtest.md`` for the dataset formats, the scoring protocol and the
capability options.
"""

from .capability import CAPABILITIES, capabilities, power_index
from .data import Dataset, Issue, deu_path, load_dataset, load_deu, load_outcomes
from .metrics import metrics, paired_bootstrap
from .result import REFERENCE, BacktestResult
from .run import ModelSpec, parse_spec, run_backtest, split_specs

__all__ = [
    "BacktestResult",
    "CAPABILITIES",
    "Dataset",
    "Issue",
    "ModelSpec",
    "REFERENCE",
    "capabilities",
    "deu_path",
    "load_dataset",
    "load_deu",
    "load_outcomes",
    "metrics",
    "paired_bootstrap",
    "parse_spec",
    "power_index",
    "run_backtest",
    "split_specs",
]
