"""Cancellation reaches into the computation: a set cancel flag stops a forecast, an analysis and the
round loops of the models that play rounds in Python (what a web request relies on when its client
goes away or its job is cancelled). Outside a cancel scope nothing changes."""

from __future__ import annotations

import threading

import pytest

from detente import _cancel, api, models
from detente.analysis import monte_carlo


def _stopped() -> threading.Event:
    ev = threading.Event()
    ev.set()
    return ev


@pytest.mark.parametrize("model", ["compromise", "bdm", "smp", "exchange"])
def test_a_set_flag_stops_a_forecast(model):
    with _cancel.scope(_stopped()), pytest.raises(_cancel.Cancelled):
        api.forecast("korea-2019", model)
    # outside the scope (and with a clear flag) the same forecast runs
    with _cancel.scope(threading.Event()):
        assert api.forecast("korea-2019", model).model == model
    assert api.forecast("korea-2019", model).model == model


@pytest.mark.parametrize("model", ["smp", "exchange"])
def test_the_round_loop_itself_checks(model):
    """Called directly (no simulate around it), the model's own loop stops on the flag."""
    scen = api.load("korea-2019")
    m = models.get(model)
    with _cancel.scope(_stopped()), pytest.raises(_cancel.Cancelled):
        m.run(scen.to_inputs(), m.Params())


def test_a_running_analysis_stops_at_its_next_model_call():
    ev, seen = threading.Event(), []

    def on_chunk(done, total):
        seen.append(done)
        if len(seen) == 2:
            ev.set()  # a cancel arrives while the analysis runs

    with _cancel.scope(ev), pytest.raises(_cancel.Cancelled):
        monte_carlo("korea-2019", "compromise", draws=500, seed=1, chunk=50, progress=False, on_chunk=on_chunk)
    assert seen == [50, 100]
