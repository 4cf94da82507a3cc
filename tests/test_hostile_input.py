"""Hostile input: every parser probe of issue #10 through the CLI (exit 2) and the web API (422).

Each probe is the kind of file a hostile user would send: an ``extends:`` that
reaches for the server's files, devices or pipes; tiny documents that blow up
(alias and entity bombs); numbers, nesting and cells beyond any sane size; text
that is not text; numbers that are not finite or too large to compute with.
Each must end quickly in a clear problem (naming the user's own file and line,
and the bound and how to raise it), never in a traceback, a hang, or the
content of another file. The CLI runs in a subprocess with a generous time
limit (the point is "does not hang"; the machine is shared).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import detente
from detente._parse import csv_safe, csv_unsafe, over_limit
from detente.backtest.data import load_outcomes
from detente.errors import DatasetError, DetenteError, ScenarioError
from detente.scenario import dump_csv
from detente.web import create_app

TIMEOUT = 60  # seconds; a probe that hangs fails instead of blocking the suite
SECRET = "SECRET-CONTENT-8d1f"

SCEN = """name: {name}
issues: [{{key: i, scale: [0, 100]}}]
actors:
  - {{key: a, capability: {cap}, positions: {{i: 10}}, salience: {{i: 50}}}}
  - {{key: b, capability: 2, positions: {{i: 90}}, salience: {{i: 50}}}}
"""


def alias_bomb() -> str:
    """The "billion laughs" in YAML: nine levels of nine aliases, about 500 bytes, 9^9 values expanded."""
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for c in "bcdefghi":
        text += f"{c}: &{c} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = c
    return text


def entity_bomb() -> str:
    """The XML entity bomb: ten levels of ten references, about 1 KB, 10^10 characters expanded."""
    ents = ['<!ENTITY l0 "lollollollollollollollollollol">']
    for k in range(1, 10):
        ents.append(f'<!ENTITY l{k} "' + f"&l{k - 1};" * 10 + '">')
    return ('<?xml version="1.0"?>\n<!DOCTYPE Scenario [\n' + "\n".join(ents) + "\n]>\n"
            "<Scenario><name>&l9;</name></Scenario>\n")


@pytest.fixture()
def secret_dir(tmp_path: Path) -> Path:
    """A folder outside the user's folder with files whose content must never come back."""
    d = tmp_path / "server"
    d.mkdir()
    (d / "secret.yaml").write_text(f"name: {SECRET}\nissues: [{{key: {SECRET}}}]\n", encoding="utf-8")
    (d / "secret.csv").write_text(f"actor,issue,capability,position,salience\n{SECRET},i,x{SECRET},1,1\n", encoding="utf-8")
    (d / "list.yaml").write_text(f"- {SECRET}\n", encoding="utf-8")
    return d


def probes(user: Path, secret_dir: Path) -> dict[str, tuple[str, str, str]]:
    """name -> (file name, content, a text the problem must contain)."""
    fifo = user / "pipe.yaml"
    if not fifo.exists():
        os.mkfifo(fifo)
    (user / "escape.yaml").symlink_to(secret_dir / "secret.yaml")
    return {
        "extends-absolute": ("v.yaml", f"name: v\nextends: {secret_dir / 'secret.yaml'}\n", "extends"),
        "extends-absolute-csv": ("v.yaml", f"name: v\nextends: {secret_dir / 'secret.csv'}\n", "extends"),
        "extends-not-a-mapping": ("v.yaml", f"name: v\nextends: {secret_dir / 'list.yaml'}\n", "extends"),
        "extends-dotdot": ("v.yaml", "name: v\nextends: ../server/secret.yaml\n", "extends"),
        "extends-dev-zero": ("v.yaml", "name: v\nextends: /dev/zero\n", "extends"),
        "extends-fifo": ("v.yaml", "name: v\nextends: pipe.yaml\n", "extends"),
        "extends-symlink-out": ("v.yaml", "name: v\nextends: escape.yaml\n", "extends"),
        "alias-bomb": ("bomb.yaml", alias_bomb(), "DETENTE_MAX_ALIASES"),
        "int-5000-digits-yaml": ("n.yaml", SCEN.format(name="n", cap="9" * 5000), "DETENTE_MAX_INT_DIGITS"),
        "int-5000-digits-json": ("n.json", json.dumps({"name": "n"})[:-1] + ', "rounds": ' + "9" * 5000 + "}",
                                 "DETENTE_MAX_INT_DIGITS"),
        "nesting-3000-yaml": ("d.yaml", "name: " + "[" * 3000 + "]" * 3000 + "\n", "DETENTE_MAX_DEPTH"),
        "nesting-3000-block": ("d.yaml", "".join(" " * k + f"k{k}:\n" for k in range(3000)), "DETENTE_MAX_DEPTH"),
        "nesting-3000-json": ("d.json", '{"name": ' + "[" * 3000 + "]" * 3000 + "}", "DETENTE_MAX_DEPTH"),
        "complex-key": ("c.yaml", "? [a, b]\n: 1\nname: c\n", "complex YAML key"),
        "complex-key-mapping": ("c.yaml", "name: c\n{a: 1}: 2\n", "complex YAML key"),
        "csv-field-140k": ("t.csv", 'actor,issue,capability,position,salience\n"' + "x" * 140_000 + '",i,1,2,3\n',
                           "DETENTE_MAX_FIELD_CHARS"),
        "lone-surrogate-escape": ("s.yaml", 'name: "\\ud800"\nissues: []\n', "s.yaml"),
        "lone-surrogate-json": ("s.json", '{"name": "\\udfff"}', "s.json"),
        "nan-inf": ("f.yaml", SCEN.format(name="f", cap=".nan").replace("{i: 90}", "{i: .inf}"), "finite"),
        "1e308-yaml": ("h.yaml", SCEN.format(name="h", cap="1.0e308"), "DETENTE_MAX_MAGNITUDE"),
        "1e308-json": ("h.json", json.dumps({"name": "h", "issues": [{"key": "i", "scale": [0, 1e308]}],
                                             "actors": [{"key": "a", "capability": 1, "positions": {"i": 1}, "salience": {"i": 1}},
                                                        {"key": "b", "capability": 1, "positions": {"i": 1}, "salience": {"i": 1}}]}),
                       "DETENTE_MAX_MAGNITUDE"),
        "1e308-csv": ("t.csv", "actor,issue,capability,position,salience\na,i,1e308,1,1\nb,i,1,2,3\n", "DETENTE_MAX_MAGNITUDE"),
        "binary": ("b.yaml", "\x00\x01\x02 not text", "b.yaml"),
    }


# ----------------------------------------------------------------------------- CLI


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    code = "import sys; from detente.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT, env={**os.environ, "COLUMNS": "2000"})


PROBE_NAMES = [
    "extends-absolute", "extends-absolute-csv", "extends-not-a-mapping", "extends-dotdot", "extends-dev-zero",
    "extends-fifo", "extends-symlink-out", "alias-bomb", "int-5000-digits-yaml", "int-5000-digits-json",
    "nesting-3000-yaml", "nesting-3000-block", "nesting-3000-json", "complex-key", "complex-key-mapping",
    "csv-field-140k", "lone-surrogate-escape", "lone-surrogate-json", "nan-inf", "1e308-yaml", "1e308-json",
    "1e308-csv", "binary",
]


def test_cli_every_probe_exits_2_with_its_problem(tmp_path, secret_dir):
    """All probes in one `detente validate` (one interpreter start): each file gets its own problem."""
    user = tmp_path / "user"
    files = []
    for probe in PROBE_NAMES:
        folder = user / probe
        folder.mkdir(parents=True)
        name, text, expect = probes(folder, secret_dir)[probe]
        (folder / name).write_text(text, encoding="utf-8")
        files.append((f"{probe}/{name}", expect))
    (user / "bomb.xml").write_text(entity_bomb(), encoding="utf-8")
    assert len(entity_bomb()) < 1200 and len(alias_bomb()) < 600
    os.mkfifo(user / "fifo.yaml")
    files += [("bomb.xml", "ENTITY"), ("fifo.yaml", "not a regular file"), ("/dev/zero", "not a regular file")]
    r = run_cli("validate", *(f for f, _ in files), cwd=user)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "internal error" not in out and "Traceback" not in out
    assert SECRET not in out
    lines = out.splitlines()
    for f, expect in files:
        mine = [ln for ln in lines if ln.strip().startswith(f + ":")]  # the user's own file (and line)
        assert mine, f"no problem for {f}:\n{out}"
        assert any(expect in ln for ln in mine), f"{f}: expected {expect!r} in\n" + "\n".join(mine)


def test_cli_problem_names_the_user_file_and_line_for_a_bad_base(tmp_path, secret_dir):
    (tmp_path / "v.yaml").write_text(f"name: v\n\nextends: {secret_dir / 'secret.yaml'}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as e:
        detente.load(tmp_path / "v.yaml")
    p = e.value.problems[0]
    assert (p.file, p.line, p.field) == (str(tmp_path / "v.yaml"), 3, "extends")
    assert "absolute" in p.reason


# ----------------------------------------------------------------------------- web


@pytest.fixture()
def client(tmp_path):
    # a loopback host name, and the header the bundled UI sends on writes (the server refuses others)
    with TestClient(create_app(tmp_path / "runs.sqlite3"), raise_server_exceptions=False,
                    base_url="http://127.0.0.1", headers={"X-Detente": "1"}) as c:
        yield c


def post(client: TestClient, url: str, **kw):
    """A request that must answer within TIMEOUT (run in a thread, so that a hang fails the test)."""
    box: dict = {}

    def go() -> None:
        box["r"] = client.post(url, **kw)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(TIMEOUT)
    assert not t.is_alive(), f"{url} did not answer within {TIMEOUT} s"
    return box["r"]


WEB_PROBES = [p for p in PROBE_NAMES if p not in ("extends-fifo", "extends-symlink-out", "binary")]


@pytest.mark.parametrize("probe", WEB_PROBES)
def test_web_probe_answers_422_without_server_content(probe, tmp_path, secret_dir, client):
    user = tmp_path / "user"
    user.mkdir()
    name, text, expect = probes(user, secret_dir)[probe]
    fmt = {".json": "json", ".csv": "csv"}.get(Path(name).suffix, "yaml")
    r = post(client, "/api/validate", content=json.dumps({"text": text, "filename": name, "format": fmt}),
             headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text[:500]
    body = r.text
    assert SECRET not in body
    assert all(q["file"] in (name, None) for q in r.json()["problems"])  # no path of the server
    if expect.startswith("DETENTE_") or expect in ("finite", "extends"):
        assert expect in body, body[:500]
    assert r.json()["problems"][0]["file"] == name


@pytest.mark.parametrize("target", ["secret.yaml", "secret.csv", "list.yaml", "missing.yaml", "/dev/zero", "pipe"])
def test_web_extends_gives_one_answer_whatever_the_path(target, tmp_path, secret_dir, client):
    """Over the web `extends:` names only shipped scenarios: a path is refused with the same message whether
    the path exists, is a mapping, a list, a device or a pipe (nothing tells what the server holds)."""
    os.mkfifo(secret_dir / "pipe")
    path = target if target.startswith("/") else str(secret_dir / target)
    answers = []
    for payload in ({"text": f"name: v\nextends: {path}\n"}, {"scenario": {"name": "v", "extends": path}}):
        r = post(client, "/api/validate", json=payload)
        assert r.status_code == 422
        assert SECRET not in r.text
        p = r.json()["problems"]
        assert len(p) == 1 and p[0]["field"] == "extends"
        head, sep, tail = p[0]["reason"].partition(" is not a shipped scenario")
        assert sep and head.startswith("'")  # the user's own words, then the same answer for every path
        answers.append(tail)
    for url in ("/api/forecast", "/api/jobs"):
        r = post(client, url, json={"text": f"name: v\nextends: {path}\n"})
        assert r.status_code == 422 and SECRET not in r.text
    r = post(client, "/api/compare", json={"scenarios": [{"name": "korea-2019"}, {"text": f"name: v\nextends: {path}\n"}]})
    assert r.status_code == 422 and SECRET not in r.text
    r = post(client, "/api/upload", files={"file": ("v.yaml", f"name: v\nextends: {path}\n".encode(), "text/yaml")})
    assert r.status_code == 422 and SECRET not in r.text
    assert client.get("/api/runs").json() == []
    assert answers[0] == answers[1]


def test_web_answers_are_the_same_for_existing_and_missing_paths(secret_dir, client):
    reasons = set()
    for path in (secret_dir / "secret.yaml", secret_dir / "list.yaml", secret_dir / "nope.yaml", Path("/etc/hostname")):
        r = post(client, "/api/validate", json={"text": "name: v\nextends: X\n".replace("X", str(path))})
        reasons.add(r.json()["problems"][0]["reason"].partition(" is not a shipped scenario")[2])
    assert len(reasons) == 1


def test_web_variant_of_a_shipped_scenario(client):
    r = post(client, "/api/validate", json={"text": "name: my variant\nextends: korea-2019\n", "filename": "mine.yaml"})
    assert r.status_code == 200 and r.json()["name"] == "my variant"
    # a problem inside the shipped base is named by the base's file name, never the server's path
    r = post(client, "/api/validate", json={"text": "name: v\nextends: korea-2019\nissues:\n  - key: extra\n",
                                             "filename": "mine.yaml"})
    assert r.status_code == 422
    files = {p["file"] for p in r.json()["problems"]}
    assert files == {"korea-2019.yaml"}
    package = Path(detente.__file__).resolve().parent  # where the shipped file lies on the server
    assert str(package) not in r.text and str(package).replace("/", "\\/") not in r.text
    assert "scenarios/korea-2019" not in r.text.replace("\\/", "/")
    # the raw sent back is the user's own document, not the base merged in
    raw = r.json()["raw"]
    assert raw["extends"] == "korea-2019" and "actors" not in raw
    # a dict may extend a shipped scenario too (the browser sends the raw back as a dict)
    r = post(client, "/api/validate", json={"scenario": {"name": "d", "extends": "korea-2019"}})
    assert r.status_code == 200 and r.json()["name"] == "d"


def test_web_lone_surrogate_in_request_text_and_dict(client):
    for body in ('{"text": "name: \\ud800\\n"}', '{"scenario": {"name": "x", "issues": [{"key": "\\udc00"}]}}'):
        r = post(client, "/api/validate", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert "surrogate" in r.text


def test_web_non_finite_numbers_in_a_dict_answer_422(client):
    body = ('{"scenario": {"name": "x", "issues": [{"key": "i"}], "actors": [{"key": "a", "capability": NaN, '
            '"positions": {"i": 1}, "salience": {"i": Infinity}}, {"key": "b", "capability": 1e308, '
            '"positions": {"i": 1}, "salience": {"i": 1}}]}}')
    r = post(client, "/api/validate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    fields = {p["field"] for p in r.json()["problems"]}
    assert {"actors[a].capability.value", "actors[a].salience.i.value", "actors[b].capability.value"} <= fields
    assert r.json()["raw"]["actors"][0]["capability"] is None  # JSON has no NaN: sent back as null


def test_web_invalid_colour_is_not_sent_back(client):
    text = SCEN.format(name="c", cap=1).replace("{key: a,", "{key: a, color: 'red;background:url(http://evil.example/)',")
    r = post(client, "/api/validate", json={"text": text})
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == "actors[a].color"
    assert "color" not in r.json()["raw"]["actors"][0] and "evil" not in json.dumps(r.json()["raw"])


# ----------------------------------------------------------------------------- sandbox, files mode


def test_files_beside_and_below_may_be_extended(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.yaml").write_text(SCEN.format(name="base", cap=3), encoding="utf-8")
    (tmp_path / "v.yaml").write_text("name: v\nextends: sub/base.yaml\n", encoding="utf-8")
    (tmp_path / "w.yaml").write_text("name: w\nextends: korea-2019\n", encoding="utf-8")  # a shipped one by name
    assert detente.load(tmp_path / "v.yaml").actor("a").capability.value == 3
    assert detente.load(tmp_path / "w.yaml").name == "w"
    os.symlink(tmp_path / "sub" / "base.yaml", tmp_path / "link.yaml")  # a link that stays inside is fine
    (tmp_path / "x.yaml").write_text("name: x\nextends: link.yaml\n", encoding="utf-8")
    assert detente.load(tmp_path / "x.yaml").name == "x"


def test_outcomes_dataset_may_not_name_a_scenario_outside_its_folder(tmp_path, secret_dir):
    d = tmp_path / "ds"
    d.mkdir()
    (d / "outcomes.csv").write_text(f"scenario,issue,outcome\n{secret_dir / 'secret.yaml'},i,5\n../server/secret.yaml,i,5\n",
                                    encoding="utf-8")
    with pytest.raises(DatasetError) as e:
        load_outcomes(d)
    assert [p.line for p in e.value.problems] == [2, 3]
    assert all("inside the dataset folder" in p.reason for p in e.value.problems)
    assert SECRET not in str(e.value)


# ----------------------------------------------------------------------------- bounds and how to raise them


def test_a_bound_names_itself_and_its_variable_and_can_be_raised(tmp_path, monkeypatch):
    f = tmp_path / "s.yaml"
    f.write_text(SCEN.format(name="s", cap=1), encoding="utf-8")
    monkeypatch.setenv("DETENTE_MAX_ACTORS", "1")
    with pytest.raises(ScenarioError) as e:
        detente.load(f)
    assert "max_actors" in str(e.value) and "DETENTE_MAX_ACTORS" in str(e.value)
    monkeypatch.setenv("DETENTE_MAX_ACTORS", "2")
    assert len(detente.load(f).actors) == 2


def test_aliases_within_the_bound_are_read_and_the_bound_can_be_raised(tmp_path, monkeypatch):
    f = tmp_path / "s.yaml"
    # an alias used 60 times (over the default of 50), then the bound raised
    many = SCEN.format(name="s", cap="&c 1").replace("capability: 2", "capability: *c") + "sources: [" + ", ".join(["*c"] * 59) + "]\n"
    f.write_text(many, encoding="utf-8")
    with pytest.raises(ScenarioError) as e:
        detente.load(f)
    assert "DETENTE_MAX_ALIASES" in str(e.value)
    monkeypatch.setenv("DETENTE_MAX_ALIASES", "100")
    with pytest.raises(ScenarioError) as e:  # now read; the sources are numbers, not text
        detente.load(f)
    assert "DETENTE_MAX_ALIASES" not in str(e.value) and "sources" in str(e.value)


def test_magnitude_bound_can_be_raised(tmp_path, monkeypatch):
    f = tmp_path / "s.yaml"
    f.write_text(SCEN.format(name="s", cap="1.0e16"), encoding="utf-8")
    with pytest.raises(ScenarioError, match="DETENTE_MAX_MAGNITUDE"):
        detente.load(f)
    monkeypatch.setenv("DETENTE_MAX_MAGNITUDE", "1e17")
    assert detente.load(f).actor("a").capability.value == 1e16


def test_a_bad_bound_setting_is_a_problem(tmp_path, monkeypatch):
    monkeypatch.setenv("DETENTE_MAX_ROWS", "lots")
    f = tmp_path / "t.csv"
    f.write_text("actor,issue,capability,position,salience\na,i,1,1,1\nb,i,1,2,1\n", encoding="utf-8")
    with pytest.raises(DetenteError, match="DETENTE_MAX_ROWS"):
        detente.load(f)


def test_row_and_file_size_bounds(tmp_path, monkeypatch):
    f = tmp_path / "t.csv"
    f.write_text("actor,issue,capability,position,salience\n" + "".join(f"a{k},i,1,1,1\n" for k in range(50)), encoding="utf-8")
    monkeypatch.setenv("DETENTE_MAX_ROWS", "20")
    with pytest.raises(ScenarioError, match="DETENTE_MAX_ROWS") as e:
        detente.load(f)
    assert e.value.problems[0].line == 21
    monkeypatch.setenv("DETENTE_MAX_ROWS", "1000")
    monkeypatch.setenv("DETENTE_MAX_FILE_BYTES", "100")
    with pytest.raises(ScenarioError, match="DETENTE_MAX_FILE_BYTES"):
        detente.load(f)


def test_schema_numbers_that_are_not_usable(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SCEN.format(name="s", cap="{value: 1, dist: normal, sd: .inf}") + "model: {name: smp, seed: -5, params: {x: .nan}}\n",
                 encoding="utf-8")
    with pytest.raises(ScenarioError) as e:
        detente.load(f)
    fields = {p.field for p in e.value.problems}
    assert {"actors[a].capability.sd", "model.seed", "model.params.x"} <= fields


def test_colours_are_colours():
    from detente.scenario.schema import is_color

    assert all(is_color(c) for c in ("#abc", "#A1B2C3", "teal", "RebeccaPurple"))
    assert not any(is_color(c) for c in ("#12345", "expression", "url(x)", "red;x", "#abcg", "", "transparent;"))


def test_calendar_past_year_9999_does_not_crash(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SCEN.format(name="s", cap=1) + "calendar: {start: 9990-01-01, round: 1 year}\n"
                 "events: [{type: leave, actor: b, date: 9999-12-31}]\n", encoding="utf-8")
    s = detente.load(f)
    assert s.event_round(s.events[0]) >= 1


# ----------------------------------------------------------------------------- CSV formula injection


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+cmd", "-cmd|x", "@SUM(A1)", "'quoted", "''", "'=x", "plain", "-3"])
def test_csv_safe_round_trips(text):
    cell = csv_safe(text)
    assert not cell.startswith(("=", "+", "@")) and not (cell.startswith("-") and cell != "-3")
    assert csv_unsafe(cell) == text


def test_dump_csv_escapes_formulas_and_reads_back(tmp_path):
    s = detente.load({"name": "f", "issues": [{"key": "i"}], "actors": [
        {"key": "a", "name": "=HYPERLINK(\"http://evil\")", "group": "@grp", "capability": {"value": 1, "why": "+1 sure"},
         "positions": {"i": 10}, "salience": {"i": 50}},
        {"key": "b", "name": "-minus", "capability": 2, "positions": {"i": 90}, "salience": {"i": 50}}]})
    text = dump_csv(s)
    for line in text.splitlines()[1:]:
        assert not any(cell.startswith(("=", "+", "@")) for cell in line.split(","))
    assert "'=HYPERLINK" in text and "'@grp" in text and "'-minus" in text
    f = tmp_path / "f.csv"
    f.write_text(text, encoding="utf-8")
    back = detente.load(f)
    assert back.actor("a").name == "=HYPERLINK(\"http://evil\")" and back.actor("a").group == "@grp"
    assert back.actor("a").capability.why == "+1 sure" and back.actor("b").name == "-minus"


def test_over_limit_says_how_to_raise():
    msg = over_limit("max_depth")
    assert "50" in msg and "max_depth" in msg and "DETENTE_MAX_DEPTH" in msg


@pytest.mark.parametrize("body", [
    '{"scenario": ' + "[" * 3000 + "]" * 3000 + "}",  # past Python's recursion limit in json.loads
    '{"name": "korea-2019", "seed": ' + "9" * 5000 + "}",  # past Python's 4,300-digit int limit
])
def test_web_json_body_beyond_pythons_json_limits_is_422_on_the_body(body, client):
    for url in ("/api/validate", "/api/forecast", "/api/jobs"):
        r = post(client, url, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, (url, r.status_code, r.text[:300])
        (p,) = r.json()["problems"]
        assert p["field"] == "body" and "could not be read" in p["reason"]


def test_web_other_http_errors_keep_their_status(client):
    assert client.get("/api/runs/000000000000").status_code == 404
    assert client.get("/api/no-such-endpoint").status_code == 404


def test_web_long_file_names_are_problems_or_shortened_never_500(client):
    r = post(client, "/api/validate", content=json.dumps({"text": "name: x\n", "filename": "a" * 5000 + ".yaml"}),
             headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"].endswith("filename")
    files = {"file": ("b" * 300 + ".yaml", b"name: x\n", "application/x-yaml")}
    r = post(client, "/api/upload", files=files)
    assert r.status_code in (200, 201, 422), r.text[:300]  # a scenario with problems is fine; a 500 is not
