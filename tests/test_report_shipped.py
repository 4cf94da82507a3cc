"""The shipped scenarios' record sections, computed when detente is built, and the report's early child.

* ``detente/report/shipped_record.json`` holds the "What happened" section of the flagship's usual reports
  (:mod:`detente.report._shipped`). It must be what computing the section now gives, bit for bit, and a
  report may take it only for exactly the inputs it was computed from.
* Without a record section to compute, the report starts the charts that need no forecast and the
  sensitivity analysis in a forked child before the Monte Carlo: the report must be the same as when
  everything runs in one process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

import detente
from detente.engine import resolve_model
from detente.report import _shipped, build, render
from detente.report.record import SHIPPED_NOTE, record_explain, record_score

FLAGSHIP = "korea-2019"
REGENERATE = "stale: run `python -m detente.report._shipped` and commit src/detente/report/shipped_record.json"


def _fresh(body: str) -> None:
    """Run ``body`` in a new interpreter (one thread, as the command line is) and fail on its failure."""
    code = "import threading\nassert threading.active_count() == 1\n" + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900,
                          cwd=os.path.dirname(os.path.abspath(__file__)))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def shipped() -> dict:
    return json.loads(_shipped.PATH.read_text(encoding="utf-8"))


def test_every_shipped_entry_is_current_and_recomputes_bit_for_bit(shipped):
    """Each report the file lists has its entries, keyed by the code and libraries of this tree, and computing the
    section now (its score drawing its own draws, as record_data does) gives exactly the shipped values."""
    assert shipped["score"] and shipped["explain"]
    for e in shipped["score"] + shipped["explain"]:
        assert e["key"]["source_sha256"] == _shipped.source_sha256(), REGENERATE
    assert len(_shipped.reports()) == 4
    for name, model_, draws, seed in _shipped.reports():
        scen = detente.load(name)
        model, params = resolve_model(scen, model_, {})
        got = _shipped.lookup(scen, model, params, draws, seed)
        assert got is not None, (name, model, draws, REGENERATE)
    seen: set[str] = set()
    for kind, entries in (("score", shipped["score"]), ("explain", shipped["explain"])):
        for e in entries:
            k = e["key"]
            assert k["scenario_sha256"] == _shipped.scenario_sha256(detente.load(FLAGSHIP))
            if kind == "score":
                now = record_score(detente.load(FLAGSHIP), k["model"], dict(k["params"]), draws=k["draws"],
                                   seed=k["seed"], budget=None)
            else:
                now = record_explain(detente.load(FLAGSHIP), k["model"], dict(k["params"]), seed=k["seed"], budget=None)
            assert json.loads(json.dumps(now)) == e["value"], (kind, k["model"], k.get("draws"), REGENERATE)
            seen.add(f"{kind}:{k['model']}")
    assert {"score:bdm", "explain:bdm", "score:compromise", "explain:compromise"} <= seen


def test_shipped_section_only_for_exactly_its_inputs():
    scen = detente.load(FLAGSHIP)
    assert _shipped.lookup(scen, "bdm", {}, 1000, None) is not None  # the target: seed None is seed 0
    assert _shipped.lookup(scen, "bdm", {}, 0, 0) is not None
    assert _shipped.lookup(scen, "bdm", {}, 1000, 1) is None  # another seed
    assert _shipped.lookup(scen, "bdm", {}, 999, 0) is None  # other draws
    assert _shipped.lookup(scen, "bdm", {"rounds": 5}, 1000, 0) is None  # parameters
    assert _shipped.lookup(scen, "smp", {}, 1000, 0) is None  # a model not shipped
    raw = scen.model_dump(mode="json")
    raw["actors"][0]["capability"]["value"] = raw["actors"][0]["capability"]["value"] * 1.01
    assert _shipped.lookup(detente.load(raw), "bdm", {}, 1000, 0) is None  # an input changed
    raw = scen.model_dump(mode="json")
    first = next(iter(raw["record"]["issues"]))
    raw["record"]["issues"][first]["value"] = raw["record"]["issues"][first]["value"] + 1
    assert _shipped.lookup(detente.load(raw), "bdm", {}, 1000, 0) is None  # the record changed


def test_shipped_section_needs_the_same_code_and_models(monkeypatch):
    scen = detente.load(FLAGSHIP)
    monkeypatch.setattr(_shipped, "source_sha256", lambda: "0" * 64)
    assert _shipped.lookup(scen, "bdm", {}, 1000, 0) is None
    monkeypatch.undo()
    monkeypatch.setattr(detente.models, "names", lambda: ["bdm", "compromise"])
    assert _shipped.lookup(scen, "bdm", {}, 1000, 0) is None


def test_report_takes_the_shipped_section_and_says_so(shipped, monkeypatch):
    data = build.compute(FLAGSHIP, "bdm", draws=1000, sensitivity=False, figures=False, record=True)
    rec = dict(data["record"])
    assert rec.pop("shipped") is True
    scen = detente.load(FLAGSHIP)
    sk, ek = _shipped._keys(scen, "bdm", {}, 1000, 0)
    assert rec == {"score": next(e["value"] for e in shipped["score"] if e["key"] == sk),
                   "explain": next(e["value"] for e in shipped["explain"] if e["key"] == ek)}
    html = render(data)
    assert SHIPPED_NOTE in html and "Every model against the record" in html
    ran: list[str] = []
    monkeypatch.setattr(build, "_record_part", lambda part, *a, **k: ran.append(part))
    monkeypatch.setattr(build, "_record", lambda *a, **k: ran.append("record"))
    build.compute(FLAGSHIP, "bdm", draws=1000, sensitivity=False, figures=False, record=True, budget=None)
    assert ran == []


def test_report_computes_the_section_when_not_shipped(monkeypatch):
    """Another seed: computed (here in the thread path), and no note says it shipped."""
    monkeypatch.setattr(build.threading, "active_count", lambda: 2)
    data = build.compute(FLAGSHIP, "compromise", draws=60, seed=3, sensitivity=False, figures=False, record=True)
    assert "shipped" not in data["record"] and SHIPPED_NOTE not in render(data)


def test_early_child_report_is_the_one_process_report(tmp_path):
    """The early child (power chart, perspective map, sensitivity with its charts) gives the same report as one
    process drawing everything, charts, their order and PNG files included (matplotlib's random ids renamed)."""
    _fresh(f"""
        from test_report_shipped import _check_early_same
        _check_early_same({str(tmp_path)!r})
    """)


def _check_early_same(tmp: str) -> None:
    import threading
    from pathlib import Path

    def html(png: str) -> tuple[str, list[str], dict]:
        data = build.compute(FLAGSHIP, "bdm", draws=60, seed=2, sensitivity=True, record=False, png_dir=png)
        data["meta"].pop("created")
        ids: dict[str, str] = {}
        text = re.sub(r"\b((?:[pm]|C\d+_\d+_)[0-9a-f]{10})\b", lambda m: ids.setdefault(m.group(1), f"id{len(ids)}"),
                      render(data))
        return text, [Path(p).name for p in data["pngs"]], data

    assert threading.active_count() == 1
    forked: list[bool] = []
    real_init = build._Beside.__init__

    def counting(self, fn, thread=True, fork=True):
        real_init(self, fn, thread=thread, fork=fork)
        forked.append(self._proc is not None)

    build._Beside.__init__ = counting
    try:
        early, early_png, data_early = html(tmp + "/a")
    finally:
        build._Beside.__init__ = real_init
    assert forked == [True]  # one child, the early one
    real = build.threading.active_count
    build.threading.active_count = lambda: 2
    try:
        one, one_png, data_one = html(tmp + "/b")
    finally:
        build.threading.active_count = real
    assert early == one
    assert [c["id"] for c in data_early["charts"]] == [c["id"] for c in data_one["charts"]]
    assert early_png == one_png and len(one_png) == len(set(one_png)) == one.count('<svg role="img" class="chart"')
    assert sorted(p.name for p in Path(tmp + "/a").iterdir()) == sorted(one_png)
    assert one.count(": sensitivity</title>") == 3 and "Effective power" in one
