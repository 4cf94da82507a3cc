"""One "which model" rule (issue #11): the caller's model, else the scenario's own choice, else the
documented fallback. Every entry point must take the scenario's own choice when none is given."""

from __future__ import annotations

import json

import pytest
import yaml

import detente
from detente import models
from detente.engine import resolve_model
from detente.scenario.io import shipped_dir

# a registered model other than the fallback, so that a run under the fallback cannot pass
OWN = "median"


@pytest.fixture(scope="module")
def own_doc() -> dict:
    doc = yaml.safe_load((shipped_dir() / "korea-2019.yaml").read_text())
    doc["model"] = {"name": OWN}
    return doc


@pytest.fixture(scope="module")
def own(own_doc):
    return detente.load(own_doc)


@pytest.fixture()
def own_file(own_doc, tmp_path):
    p = tmp_path / "own.yaml"
    p.write_text(yaml.safe_dump(own_doc, sort_keys=False))
    return p


def test_the_rule_itself(own, own_doc):
    assert OWN != models.DEFAULT_MODEL
    assert resolve_model(own) == (OWN, {})
    assert resolve_model(own, "mean") == ("mean", {})
    with_params = detente.load({**own_doc, "model": {"name": "bdm", "params": {"rounds": 3}}})
    assert resolve_model(with_params) == ("bdm", {"rounds": 3})
    # a caller's parameters win; a caller's model never takes the scenario's parameters
    assert resolve_model(with_params, None, {"rounds": 5}) == ("bdm", {"rounds": 5})
    assert resolve_model(with_params, "bdm") == ("bdm", {})
    no_choice = detente.load({k: v for k, v in own_doc.items() if k != "model"})
    assert resolve_model(no_choice) == (models.DEFAULT_MODEL, {})


def test_forecast(own):
    assert detente.forecast(own).model == OWN


def test_monte_carlo(own):
    assert detente.monte_carlo(own, draws=8, seed=1, progress=False).model == OWN


def test_sensitivity(own):
    assert detente.sensitivity(own, method="oat", progress=False).model == OWN


def test_advice(own):
    assert detente.advise(own, "trump", draws=8, seed=1, progress=False).model == OWN


def test_compare(own):
    cmp = detente.compare([own, own], draws=0)
    assert set(cmp.to_frame()["model"]) == {OWN}


def test_report(own):
    from detente.report import build

    data = build.compute(own, draws=0, sensitivity=False)
    assert data["meta"]["model"] == OWN


@pytest.mark.parametrize("cmd", [["forecast"], ["forecast", "--draws", "8"], ["sensitivity"],
                                 ["advise", "--actor", "trump", "--draws", "8"]])
def test_cli(own_file, cmd, capsys):
    from detente.cli import main

    code = main([cmd[0], str(own_file), *cmd[1:], "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert json.loads(out.out)["model"] == OWN


def test_cli_compare(own_file, capsys):
    from detente.cli import main

    code = main(["compare", str(own_file), str(own_file), "--format", "csv"])
    out = capsys.readouterr()
    assert code == 0, out.err
    rows = out.out.splitlines()
    col = rows[0].split(",").index("model")
    assert {r.split(",")[col] for r in rows[1:]} == {OWN}


@pytest.mark.parametrize("path,extra", [("/api/forecast", {}), ("/api/advice", {"actor": "trump", "draws": 8})])
def test_web(own_doc, tmp_path, path, extra):
    from fastapi.testclient import TestClient

    from detente.web import create_app

    app = create_app(tmp_path / "runs.sqlite3")
    with TestClient(app, base_url="http://127.0.0.1", headers={"X-Detente": "1"}) as c:
        r = c.post(path, json={"text": yaml.safe_dump(own_doc, sort_keys=False), "filename": "own.yaml", **extra})
    assert r.status_code in (200, 201), r.text
    body = r.json()
    got = body["model"] if "model" in body else body["advice"]["model"]
    assert got == OWN
