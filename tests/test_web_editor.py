"""The web editor in a real browser (issue 14, point 5): a scenario built from nothing (issues with
their scale, named points and status quo, actors, events, uncertainty ranges), validated inline, saved
as YAML or CSV; uploads of every format replace the scenario and clear the old results; errors where
the eye is; the editor usable at 1,280 px. Chromium as in test_browser.py (a missing browser fails)."""

from __future__ import annotations

from pathlib import Path

import yaml

import detente
from detente.scenario.io import shipped_dir
from detente.scenario.writers import dump_xlsx
from test_browser import browser, server  # noqa: F401  (the fixtures: a served app and chromium)
from test_ktab_import import XML as KTAB_XML

DATA = Path(__file__).parent / "data"


def open_app(server, browser, width=1280):  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": 900}, accept_downloads=True)
    page.errors, page.requests = [], []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(server)
    page.wait_for_selector("body[data-ready='1']")
    return page


def put(page, selector, value):
    box = page.locator(selector)
    box.fill(str(value))
    box.dispatch_event("change")


def settle(page):
    """Wait for the validation of the last edit (250 ms after it) to answer."""
    with page.expect_response(lambda r: r.url.endswith("/api/validate")):
        pass


def no_problems(page):
    page.wait_for_selector("#problems", state="hidden")
    assert page.locator(".field-error").count() == 0


def save(page, fmt, tmp_path):
    with page.expect_download() as dl:
        page.click(f'button.export[data-format="{fmt}"]')
    f = tmp_path / dl.value.suggested_filename
    f.write_bytes(Path(dl.value.path()).read_bytes())
    return f


def test_build_a_scenario_from_nothing_and_save_it(server, browser, tmp_path):  # noqa: F811
    page = open_app(server, browser)
    page.click("#new-scenario")
    # an empty scenario says what it lacks, in the editor
    page.wait_for_selector("#problems:not([hidden])")
    assert "at least one issue" in page.locator("#problems").inner_text()
    assert page.locator("#scenario-select").input_value() == ""
    put(page, "#scenario-title", "Toll ring")

    # an issue: key, name, scale, status quo, two named points
    page.click("#add-issue")
    put(page, '[data-field="issues[issue1].key"] input', "toll")
    page.wait_for_selector('#issue-tabs button.tab.active[data-issue="toll"]')
    put(page, '[data-field="issues[toll].name"] input', "Toll level")
    put(page, '[data-field="issues[toll].scale"] input.hi', 10)
    put(page, '[data-field="issues[toll].status_quo"] input', 2)
    for value, label in ((0, "no toll"), (10, "full toll")):
        page.click("#add-point")
        last = page.locator("#issue-form .point").last
        last.locator("input.val").fill(str(value))
        last.locator("input.val").dispatch_event("change")
        last.locator("input.label").fill(label)
        last.locator("input.label").dispatch_event("change")

    # three actors, each value typed; one with an uncertainty range
    values = {"city": (50, 9, 80), "shops": (30, 1, 60), "greens": (10, 10, 90)}
    for _ in values:
        page.click("#add-actor")
    for n, (key, (cap, pos, sal)) in enumerate(values.items(), start=1):
        put(page, f'[data-field="actors[actor{n}].key"]', key)
        put(page, f'[data-field="actors[{key}].name"]', key.title())
        put(page, f'[data-field="actors[{key}].capability"]', cap)
        put(page, f'[data-field="actors[{key}].positions.toll"]', pos)
        put(page, f'[data-field="actors[{key}].salience.toll"]', sal)
    put(page, '[data-low-of="actors[city].positions.toll"]', 6)
    put(page, '[data-high-of="actors[city].positions.toll"]', 10)

    # an event: the greens change their position in round 2, with probability 0.4
    page.click("#add-event")
    put(page, '[data-field="events[event1].key"]', "greens-turn")
    put(page, '[data-field="events[greens-turn].name"]', "Greens turn")
    page.select_option('[data-field="events[greens-turn].actor"]', "greens")
    put(page, '[data-field="events[greens-turn].round"]', 2)
    put(page, '[data-field="events[greens-turn].probability"]', 0.4)
    put(page, '[data-field="events[greens-turn].changes.capability"]', "")
    put(page, '[data-field="events[greens-turn].changes.positions.toll"]', 5)
    settle(page)
    no_problems(page)

    # saved as YAML: exactly what was typed, read back by detente
    scen = detente.load(save(page, "yaml", tmp_path))
    assert scen.name == "Toll ring"
    (iss,) = scen.issues
    assert (iss.key, iss.name, iss.scale, iss.status_quo) == ("toll", "Toll level", (0.0, 10.0), 2.0)
    assert dict(iss.labels) == {0.0: "no toll", 10.0: "full toll"}
    got = {a.key: (a.name, a.capability.value, a.positions["toll"].value, a.salience["toll"].value) for a in scen.actors}
    assert got == {k: (k.title(), *map(float, v)) for k, v in values.items()}
    city = scen.actor("city").positions["toll"]
    assert (city.low, city.value, city.high) == (6.0, 9.0, 10.0)
    assert scen.actor("shops").positions["toll"].low is None  # no range where none was given
    (ev,) = scen.events
    assert (ev.key, ev.name, ev.type, ev.actor, ev.round, ev.probability) == ("greens-turn", "Greens turn", "change", "greens", 2, 0.4)
    assert dict(ev.changes.positions) == {"toll": 5.0} and ev.changes.capability is None
    # saved as a CSV stakeholder table: the same actors, issue and values
    table = detente.load(save(page, "csv", tmp_path))
    assert [(a.key, a.capability, dict(a.positions), dict(a.salience)) for a in table.actors] == \
           [(a.key, a.capability, dict(a.positions), dict(a.salience)) for a in scen.actors]
    assert [(i.key, i.scale, i.status_quo) for i in table.issues] == [("toll", (0.0, 10.0), 2.0)]
    # saved as an Excel workbook: the whole scenario, events and named points included
    book = detente.load(save(page, "xlsx", tmp_path))
    assert book.model_dump(exclude={"source_file"}) == scen.model_dump(exclude={"source_file"})

    # and it forecasts
    page.select_option("#model", "compromise")
    page.click("#run")
    page.wait_for_selector('#summary tr[data-issue="toll"] td.forecast')
    # nothing was loaded from anywhere but the app itself
    assert all(u.startswith(server) or u.startswith(("data:", "blob:")) for u in page.requests), page.requests
    assert not [e for e in page.errors if "422" not in e], page.errors
    page.close()


def test_edit_rename_and_remove(server, browser, tmp_path):  # noqa: F811
    page = open_app(server, browser)
    # a value typed outside its range is a problem at the field; its range is left as it was
    put(page, '[data-field="actors[rok].capability"]', 80)
    err = page.locator('.field-error[data-for="actors[rok].capability"]')
    err.wait_for()
    assert "outside its range [25, 45]" in err.inner_text()
    assert page.locator('[data-low-of="actors[rok].capability"]').input_value() == "25"
    assert page.locator('[data-high-of="actors[rok].capability"]').input_value() == "45"
    # and the scenario cannot be saved while it is invalid: the refusal sits beside the buttons
    page.click('button.export[data-format="yaml"]')
    page.wait_for_selector("#export-problems:not([hidden])")
    put(page, '[data-field="actors[rok].capability"]', 40)
    settle(page)
    no_problems(page)

    # rename an issue: positions, saliences and events follow it
    put(page, '[data-field="issues[deal].key"] input', "nukes")
    page.wait_for_selector('#issue-tabs button.tab.active[data-issue="nukes"]')
    settle(page)
    no_problems(page)
    # remove an issue, an actor and an event
    page.click('#issue-tabs button.tab[data-issue="exercises"]')
    page.click("#remove-issue")
    page.locator('#actors-table tr[data-actor="japan"] button.remove').click()
    page.locator('#events-table tr[data-event="year-end-deadline"] button.remove').click()
    settle(page)
    no_problems(page)
    assert page.locator("#issue-tabs button.tab").all_inner_texts() == ["nukes", "sanctions"]
    scen = detente.load(save(page, "yaml", tmp_path))
    ref = detente.load("korea-2019")
    assert scen.issue_keys == ["nukes", "sanctions"]
    assert [a.key for a in scen.actors] == [a.key for a in ref.actors if a.key != "japan"]
    assert scen.actor("rok").capability.value == 40.0
    for a in scen.actors:
        assert a.positions["nukes"] == ref.actor(a.key).positions["deal"]
    assert [e.key for e in scen.events] == [e.key for e in ref.events if e.key != "year-end-deadline"]
    # the record of what happened follows the renamed issue and loses the removed issue and event
    assert scen.record.issues["nukes"] == ref.record.issues["deal"] and set(scen.record.issues) == {"nukes", "sanctions"}
    assert set(scen.record.events) == set(ref.record.events) - {"year-end-deadline"}
    assert not [e for e in page.errors if "422" not in e], page.errors
    page.close()


def _uploads(tmp_path):
    xml = tmp_path / "smp.xml"
    xml.write_text(KTAB_XML, encoding="utf-8")
    js = tmp_path / "korea.json"
    js.write_text(detente.load("korea-2019").model_dump_json(exclude={"source_file"}), encoding="utf-8")
    book = tmp_path / "window.xlsx"
    book.write_bytes(dump_xlsx(detente.load("korea-2019-window")))
    return [xml, DATA / "decide" / "sample_data.txt", shipped_dir() / "ktab-dummy-3dim.csv", js,
            shipped_dir() / "emission-ec-1994.csv", book]


def test_upload_any_format_replaces_the_scenario_and_clears_the_results(server, browser, tmp_path):  # noqa: F811
    page = open_app(server, browser)
    for f in _uploads(tmp_path):
        # a forecast and advice on screen, for the scenario that is about to be replaced
        page.select_option("#model", "compromise")
        page.click("#run")
        page.wait_for_selector("#results:not([hidden]) #summary tbody tr")
        page.set_input_files("#upload", str(f))
        page.wait_for_selector(f'#scenario-select option[data-own]:text-is("file: {f.name}")', state="attached")
        ref = detente.load(f)
        assert page.locator("#scenario-select").input_value() == ""
        page.wait_for_selector("#results", state="hidden")
        assert page.locator("#summary tr").count() == 0 and page.locator("#charts figure").count() == 0
        assert page.locator("#actors-table tbody tr").count() == len(ref.actors), f.name
        assert page.locator("#issue-tabs button.tab").all_inner_texts() == ref.issue_keys, f.name
        assert page.locator("#advice-actor option").all_inner_texts()[0].startswith(ref.actors[0].key)
        assert page.locator("#advice-actor option").count() == len(ref.actors)
        assert page.locator("#upload-problems").is_hidden(), page.locator("#upload-problems").inner_text()
    # going back to a shipped scenario drops the file's entry from the list
    page.select_option("#scenario-select", "korea-2019")
    page.wait_for_selector("#scenario-select option[data-own]", state="detached")
    assert page.locator("#scenario-select").input_value() == "korea-2019"
    assert page.locator("#actors-table tbody tr").count() == 8
    assert not [e for e in page.errors if "422" not in e], page.errors
    page.close()


def test_upload_errors_sit_next_to_the_upload_and_on_their_tab(server, browser, tmp_path):  # noqa: F811
    page = open_app(server, browser)
    bad = tmp_path / "garbled.yaml"
    bad.write_text("name: [unclosed\nissues: {\n", encoding="utf-8")
    page.set_input_files("#upload", str(bad))
    box = page.locator("#upload-problems")
    box.wait_for()
    assert "garbled.yaml" in box.inner_text()
    # beside the file input, not at the top of the page or in another panel
    up, msg = page.locator("#upload").bounding_box(), box.bounding_box()
    assert 0 <= msg["y"] - (up["y"] + up["height"]) < 120
    # a file that cannot be read leaves the scenario as it was
    assert page.locator("#actors-table tbody tr").count() == 8

    # a file that opens with problems: each at its field, one on an issue's tab that is not open
    two = tmp_path / "two.yaml"
    two.write_text(yaml.safe_dump({
        "name": "two issues", "issues": [{"key": "a"}, {"key": "b"}],
        "actors": [{"key": "x", "capability": 10, "positions": {"a": 20, "b": 500}, "salience": {"a": 50, "b": 50}},
                   {"key": "y", "capability": -1, "positions": {"a": 80, "b": 50}, "salience": {"a": 50, "b": 50}}]}),
        encoding="utf-8")
    page.set_input_files("#upload", str(two))
    page.wait_for_selector('.field-error[data-for="actors[y].capability"]')
    assert page.locator('#issue-tabs button.tab[data-issue="b"]').get_attribute("data-problems") == "1"
    assert "marked at its field" in page.locator("#upload-problems").inner_text()
    page.click('#issue-tabs button.tab[data-issue="b"]')
    page.wait_for_selector('.field-error[data-for="actors[x].positions.b"]')
    page.close()


def test_editor_fits_1280_pixels(server, browser, tmp_path):  # noqa: F811
    """No sideways scrolling at 1,280 px, every remove button on screen, however many issues."""
    wide = tmp_path / "twelve.yaml"
    keys = [f"issue-number-{n}" for n in range(12)]
    wide.write_text(yaml.safe_dump({
        "name": "twelve issues", "issues": [{"key": k} for k in keys],
        "actors": [{"key": f"actor-with-a-long-key-{i}", "name": "An actor with a rather long name " * 2, "capability": 10,
                    "positions": {k: 10 * i for k in keys}, "salience": {k: 50 for k in keys}} for i in range(5)],
        "events": [{"key": "a-long-event-key", "name": "An event with a long name", "type": "change", "round": 2,
                    "actor": "actor-with-a-long-key-0", "changes": {"positions": {keys[0]: 50}}}]}), encoding="utf-8")
    page = open_app(server, browser, width=1280)
    for f in (None, wide):
        if f is not None:
            page.set_input_files("#upload", str(f))
            page.wait_for_selector('#actors-table tr[data-actor="actor-with-a-long-key-0"]')
        assert page.locator("html").evaluate("e => e.scrollWidth <= e.clientWidth")
        for sel in ("#actors-table", "#events-table"):
            assert page.locator(sel).evaluate("t => t.parentElement.scrollWidth <= t.parentElement.clientWidth"), sel
        removes = page.locator("#editor button.remove")
        assert removes.count() > 0
        for b in removes.all():
            box = b.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 1280
    page.close()


def test_downloads_offered_are_those_the_server_writes(server, browser):  # noqa: F811
    import httpx

    exports = httpx.get(server + "/api/health").json()["exports"]
    page = open_app(server, browser)
    shown = [b.get_attribute("data-format") for b in page.locator("button.export").all() if b.is_visible()]
    assert shown == ["yaml", "csv", "xlsx"] and set(shown) <= set(exports)
    page.close()
