"""Importing Decide input files (the exchange model's software): layout, delimiters, problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from detente import api
from detente.cli import main
from detente.errors import ScenarioError

TOLL = """#O\tToll ring, a Decide training case
#/\tID\tFull name
#A\tCouncil\tCity council
#A\tGreens\tGreen party\tsmall but loud
#A\tShops\tShopkeepers
#P\ttoll\tShould there be a toll?
#M\ttoll\t0\tNo, never
#M\ttoll\t50\tOnly with conditions
#M\ttoll\t100\tYes
#P\tprice\tHow high?
#M\tprice\t0.5\teuro
#M\tprice\t7\teuro
#/\tactor\tissue\tposition\tsalience\tpower
#D\tCouncil\ttoll\t100\t0.9\t1
#D\tGreens\ttoll\t100\t0.95\t0.6
#D\tShops\ttoll\t0\t0.95\t0.9
#D\tCouncil\tprice\t3\t0.7\t1
#D\tGreens\tprice\t5\t0.9\t0.6
"""


def _write(tmp_path, text, name="toll.txt"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_decide_file_becomes_a_scenario(tmp_path):
    s = api.load(str(_write(tmp_path, TOLL)))
    assert s.name == "Toll ring, a Decide training case" and s.salience_scale == 1
    assert s.issue_keys == ["toll", "price"] and s.actor_keys == ["Council", "Greens", "Shops"]
    toll, price = s.issues
    assert tuple(toll.scale) == (0, 100) and toll.labels == {0: "No, never", 50: "Only with conditions", 100: "Yes"}
    assert tuple(price.scale) == (0.5, 7)
    greens = s.actors[1]
    assert greens.name == "Green party" and greens.notes == "small but loud" and greens.capability.value == 0.6
    # Shops has no #D row for price: it sits the issue out
    shops = s.actors[2]
    assert shops.salience["price"].value == 0 and "not in the Decide file" in shops.salience["price"].why
    # the compromise point by hand: toll (1*.9*100 + .6*.95*100 + .9*.95*0) / (.9 + .57 + .855)
    fc = api.forecast(s, model="compromise").forecast
    assert fc["toll"] == pytest.approx(147 / 2.325)
    assert fc["price"] == pytest.approx((0.7 * 3 + 0.54 * 5) / (0.7 + 0.54))


def test_delimiters_and_quotes(tmp_path):
    ref = api.load(str(_write(tmp_path, TOLL)))
    semi = TOLL.replace("\t", ";")
    quoted = "\n".join("\t".join(f"'{c}'" if not c.replace(".", "").isdigit() else c for c in ln.split("\t"))
                       for ln in TOLL.strip().split("\n")) + "\n"
    comma = TOLL.replace("\t", ",").replace("No, never", '"No, never"').replace(
        "Toll ring, a Decide training case", '"Toll ring, a Decide training case"')
    for text, name in ((semi, "semi.txt"), (quoted, "quoted.txt"), (comma, "comma.csv")):
        s = api.load(str(_write(tmp_path, text, name)))
        assert s.model_dump(exclude={"source_file", "description"}) == ref.model_dump(exclude={"source_file", "description"}), name


@pytest.mark.parametrize(
    "edit, line, field, reason",
    [
        (lambda t: t.replace("#D\tGreens\tprice", "#D\tGrens\tprice"), 18, "#D Grens price", "unknown actor 'Grens'"),
        (lambda t: t.replace("#D\tCouncil\tprice\t3", "#D\tCouncil\tprice\t9"), 17, "#D Council price: position", "outside the scale [0.5, 7]"),
        (lambda t: t.replace("#D\tShops\ttoll\t0\t0.95", "#D\tShops\ttoll\t0\t95"), 16, "#D Shops toll: salience", "between 0 and 1"),
        (lambda t: t.replace("#D\tGreens\tprice\t5\t0.9\t0.6", "#D\tGreens\tprice\t5\t0.9\t0.7"), 18, "#D Greens price: power", "differs from 0.6 on line 15"),
        (lambda t: t.replace("#D\tCouncil\ttoll\t100\t0.9\t1", "#D\tCouncil\ttoll\tlots\t0.9\t1"), 14, "#D Council toll: position", "expected a number"),
        (lambda t: t.replace("#D\tGreens\tprice\t5\t0.9\t0.6", "#D\tGreens\tprice\t5"), 18, "#D", "expected actor, issue"),
        (lambda t: t + "#A\tShops\tAgain\n", 19, "#A Shops", "defined twice (first on line 5)"),
        (lambda t: t + "toll\t3\n", 19, "", "unknown row 'toll'"),
    ],
)
def test_problems_name_file_line_field(tmp_path, edit, line, field, reason):
    p = _write(tmp_path, edit(TOLL))
    with pytest.raises(ScenarioError) as ei:
        api.load(str(p))
    probs = ei.value.problems
    assert any(pr.file == str(p) and pr.line == line and pr.field == field and reason in pr.reason for pr in probs), probs


def test_cli_exit_code_and_web_upload(tmp_path, capsys):
    bad = _write(tmp_path, TOLL.replace("#D\tShops\ttoll\t0\t0.95", "#D\tShops\ttoll\t0\t95"), "bad.txt")
    assert main(["validate", str(bad)]) == 2
    assert "bad.txt:16" in capsys.readouterr().err
    assert main(["validate", str(_write(tmp_path, TOLL))]) == 0

    from fastapi.testclient import TestClient

    from detente.web import create_app

    with TestClient(create_app(tmp_path / "runs.sqlite3"), base_url="http://127.0.0.1", headers={"X-Detente": "1"}) as client:
        r = client.post("/api/validate", json={"text": TOLL, "filename": "toll.txt"})
        assert r.status_code == 200 and r.json()["scenario"]["name"] == "Toll ring, a Decide training case"
        r = client.post("/api/validate", json={"text": bad.read_text(), "filename": "bad.txt"})
        assert r.status_code == 422 and r.json()["problems"][0]["line"] == 16


# ---------------------------------------------------------------------------
# Decide's own example files (tests/data/decide, see its README)

DECIDE = Path(__file__).parent / "data" / "decide"


@pytest.mark.parametrize("name, n, D", [("sample_data.txt", 10, 6), ("cop21.csv", 15, 13), ("copenhagen.csv", 11, 7)])
def test_every_decide_example_reads(name, n, D):
    s = api.load(str(DECIDE / name))
    assert (len(s.actors), len(s.issues)) == (n, D)
    fc = api.forecast(s, model="exchange", passes=1).forecast
    assert set(fc) == set(s.issue_keys)


def test_ids_with_spaces_become_keys_and_keep_their_names():
    s = api.load(str(DECIDE / "copenhagen.csv"))
    eu = s.actors[1]
    assert (eu.key, eu.name) == ("EU_incl_Norway", "EU (incl Norway)")
    assert s.actor_keys[-1] == "Alliance_of_Small_Island_States"
    # Russia has no #D row for Commitments and Extra: it sits those out
    russia = s.actors[s.actor_keys.index("Russia")]
    assert russia.salience["Commitments"].value == 0 and russia.positions["Newtreaty"].value == 90
    assert eu.positions["DevlopC2020"].value == 70 and eu.capability.value == 0.156


def test_copenhagen_with_errors_reports_both_errors_in_one_pass():
    p = DECIDE / "copenhagen_with_errors.csv"
    with pytest.raises(ScenarioError) as ei:
        api.load(str(p))
    got = [(pr.file, pr.line, pr.field) for pr in ei.value.problems]
    assert got == [(str(p), 86, "#D Russia Control: position"), (str(p), 87, "#D China India Control: power")]


def test_ids_that_become_the_same_key_are_reported_with_both_lines(tmp_path):
    text = TOLL.replace("#A\tShops\tShopkeepers\n", "#A\tShops\tShopkeepers\n#A\tGreen party\n#A\tGreen_party\n")
    text = text.replace("#D\tGreens\tprice\t5\t0.9\t0.6", "#D\tGreens\tprice\t5\t0.9\t0.6\n#D\tGreen party\ttoll\t50\t0.5\t0.5\n#D\tGrens\ttoll\t0\t0.5\t0.5")
    p = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as ei:
        api.load(str(p))
    probs = ei.value.problems
    assert any(pr.line == 7 and pr.field == "#A Green_party" and "'Green_party', as does 'Green party' on line 6" in pr.reason
               for pr in probs), probs
    assert any(pr.line == 22 and "unknown actor 'Grens'" in pr.reason for pr in probs), probs  # in the same pass
    assert [pr.line for pr in probs] == sorted(pr.line for pr in probs)
