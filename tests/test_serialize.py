"""The one JSON serialiser: strict JSON from numpy, NaN/inf, pydantic and dates."""
import datetime as dt
import json
import math

import numpy as np
import pytest

from detente.serialize import dumps, jsonable


def test_non_finite_numbers_become_null_at_any_depth():
    data = {"a": float("nan"), "b": [np.float64("inf"), -math.inf, 1.5], "c": {"d": np.float32("nan")}}
    assert jsonable(data) == {"a": None, "b": [None, None, 1.5], "c": {"d": None}}
    assert "NaN" not in dumps(data) and "Infinity" not in dumps(data)


def test_numpy_values_become_python_values_of_the_same_kind():
    out = jsonable({"i": np.int64(3), "f": np.float64(0.25), "b": np.bool_(True), "arr": np.array([[1, 2], [3, 4]])})
    assert out == {"i": 3, "f": 0.25, "b": True, "arr": [[1, 2], [3, 4]]}
    assert type(out["i"]) is int and type(out["f"]) is float and type(out["b"]) is bool


def test_pydantic_dates_and_keys_become_text():
    from detente.models.base import ModelParams

    p = ModelParams()
    assert jsonable(p) == json.loads(p.model_dump_json())
    assert jsonable({1: dt.date(2019, 2, 28), None: (1, 2)}) == {"1": "2019-02-28", "null": [1, 2]}


def test_dumps_is_strict_json():
    text = dumps({"x": [float("nan"), 1]}, indent=None)
    assert text == '{"x": [null, 1]}'
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard constant {c}"))


def test_history_csv_from_stored_json_matches_the_results_own_frame():
    import io

    import pandas as pd

    from detente import api

    res = api.forecast("korea-2019", seed=1)
    d = json.loads(res.to_json())  # as a stored run holds it
    from detente.serialize import history_csv

    got = pd.read_csv(io.StringIO(history_csv(d)))
    want = res.to_frame()
    assert list(got.columns) == list(want.columns)
    got = got.sort_values(["round", "actor", "issue"]).reset_index(drop=True)
    want = want.sort_values(["round", "actor", "issue"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["round", "actor", "issue"]], want[["round", "actor", "issue"]], check_dtype=False)
    assert abs(got["position"] - want["position"]).max() < 1e-9
    assert abs(got["forecast"] - want["forecast"]).max() < 1e-9


def test_meta_block_is_shared_and_keeps_its_key_order():
    from detente import __version__, api
    from detente.serialize import input_sha256, meta

    res = api.forecast("korea-2019", seed=3)
    m = res.to_dict()["meta"]
    assert list(m) == ["version", "seed", "input_sha256", "events", "notes"]
    assert m["version"] == __version__ and m["seed"] == 3 and m["input_sha256"] == input_sha256(res.scenario)
    assert meta(None, draws=5) == {"version": __version__, "seed": None, "draws": 5}


def test_every_result_type_serialises_through_the_one_json_writer():
    # one to_json (serialize.JsonResult): strict JSON, the result's own to_dict, nothing else
    import json

    from detente.analysis import Advice, Comparison, MonteCarloResult, SensitivityResult
    from detente.backtest.result import BacktestResult
    from detente.result import Result
    from detente.serialize import JsonResult

    for cls in (Result, MonteCarloResult, SensitivityResult, Advice, Comparison, BacktestResult):
        assert issubclass(cls, JsonResult) and cls.to_json is JsonResult.to_json, cls.__name__

    class Toy(JsonResult):
        JSON_ASCII = True

        def to_dict(self):
            return {"x": float("nan"), "name": "Pyöngyang", "n": __import__("numpy").int64(3)}

    text = Toy().to_json(indent=None)
    assert text == '{"x": null, "name": "Py\\u00f6ngyang", "n": 3}'
    assert json.loads(text)["name"] == "Pyöngyang"


def test_a_result_type_without_to_dict_cannot_be_made():
    from detente.serialize import JsonResult

    class NoContract(JsonResult):
        pass

    class WithContract(JsonResult):
        def to_dict(self):
            return {"x": float("nan"), "y": 1}

    with pytest.raises(TypeError, match="to_dict"):
        NoContract()
    assert WithContract().to_json(indent=None) == '{"x": null, "y": 1}'
