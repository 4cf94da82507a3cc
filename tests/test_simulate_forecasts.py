"""``simulate_forecasts`` (the runner's forecasts without the joined history, what analyses over many draws
read) gives ``simulate``'s forecasts bit for bit: every model, on the flagship's event branches and on a
timeline with a join, a change and a deadline that happen in some draws only."""

from __future__ import annotations

import numpy as np
import pytest

import detente
from detente import models
from detente.analysis._draws import monte_carlo_draws
from detente.engine import load, model_params
from detente.simulate import simulate, simulate_forecasts


def _same(scen, name, inputs, happened):
    p = model_params(name, {})
    tr = simulate(scen, name, p, inputs=inputs, happened=happened)
    final, forecast = simulate_forecasts(scen, name, p, inputs=inputs, happened=happened)
    assert forecast.shape == tr.forecast.shape
    assert np.array_equal(forecast, tr.forecast, equal_nan=True)
    assert np.array_equal(final, tr.final, equal_nan=True)


@pytest.mark.parametrize("name", models.names())
def test_forecasts_of_the_flagship_draws_are_simulates(name):
    scen = load("korea-2019")
    d = monte_carlo_draws(scen, 24, seed=7)
    assert d.happened.any(axis=0).all() and (~d.happened).any(axis=0).all()  # every event on and off in some draws
    _same(scen, name, d.inputs, d.happened)


def _timeline():
    return detente.load({
        "name": "timeline", "rounds": 8,
        "issues": [{"key": "i", "scale": [0, 100], "status_quo": 50}, {"key": "j", "scale": [0, 10], "status_quo": 3}],
        "actors": [
            {"key": "a", "capability": {"value": 3, "low": 1, "high": 5}, "positions": {"i": {"value": 10, "low": 0, "high": 30}, "j": 2},
             "salience": {"i": 90, "j": 40}},
            {"key": "b", "capability": 2, "positions": {"i": 90, "j": {"value": 8, "low": 5, "high": 10}}, "salience": {"i": 70, "j": 80}},
            {"key": "c", "capability": 4, "positions": {"i": 60, "j": 5}, "salience": {"i": 50, "j": 50}},
            {"key": "d", "capability": 1, "positions": {"i": 40, "j": 1}, "salience": {"i": 60, "j": 30}},
        ],
        "events": [
            {"name": "c joins", "type": "join", "actor": "c", "round": 3, "probability": 0.5},
            {"name": "b shifts", "type": "change", "actor": "b", "round": 4, "probability": 0.5,
             "changes": {"positions": {"i": 50}, "salience": {"j": 10}}},
            {"name": "d leaves", "type": "leave", "actor": "d", "round": 5, "probability": 0.5},
            {"name": "end", "type": "deadline", "round": 6, "probability": 0.5},
        ],
    })


@pytest.mark.parametrize("name", models.names())
def test_forecasts_on_a_timeline_of_every_event_type_are_simulates(name):
    scen = _timeline()
    d = monte_carlo_draws(scen, 32, seed=3)
    assert d.happened.any(axis=0).all() and (~d.happened).any(axis=0).all()
    _same(scen, name, d.inputs, d.happened)
