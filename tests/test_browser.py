"""End to end in a real browser: chromium driven by Playwright.

CI installs Debian's chromium (``.ci/run``), so a missing browser is a
failure, not a skip. The browser is ``$DETENTE_CHROMIUM`` if set, else the
first of ``chromium``, ``chromium-browser``, ``google-chrome`` on PATH, else
``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest


def find_chromium() -> Path | None:
    """The chromium executable to drive, or None."""
    given = os.environ.get("DETENTE_CHROMIUM")
    if given:
        return Path(given) if Path(given).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return Path(found)
    fallback = Path("/usr/bin/chromium")
    return fallback if fallback.is_file() else None

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

BROKEN = """name: broken upload
issues:
  - key: deal
    scale: [0, 100]
actors:
  - key: alpha
    capability: 10
    positions: {deal: 20}
    salience: {deal: 50}
  - key: beta
    capability: -5
    positions: {deal: 80}
    salience: {deal: 50}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from detente.web import create_app

    port = _free_port()
    app = create_app(tmp_path_factory.mktemp("store") / "runs.sqlite3")
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    while not srv.started:
        t.join(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        pytest.fail("no chromium found: install it (apt-get install -y chromium) or set DETENTE_CHROMIUM to its path")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium), args=ARGS)
        yield b
        b.close()


def _forecast(page, issue="deal"):
    return page.locator(f'#summary tr[data-issue="{issue}"] td.forecast').inner_text()


def test_app_end_to_end(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server)
    page.wait_for_selector("body[data-ready='1']")
    # the flagship opens by default
    assert page.locator("#scenario-select").input_value() == "korea-2019"
    assert page.locator("#actors-table tbody tr").count() == 8

    # run it: a chart is rendered
    page.select_option("#model", "bdm")
    page.click("#run")
    page.wait_for_selector('#charts figure[data-chart="trajectory-deal"] svg')
    assert page.locator("#charts svg").count() >= 4
    # who moved whom: bdm's offers, each with the actor that made it
    moves = page.locator("#moves table.moves tbody tr")
    assert moves.count() > 0
    assert any(w.startswith(("confrontation with", "compromise with", "capitulation with"))
               for w in moves.locator("td:last-child").all_inner_texts())
    first_run = page.locator("#results").get_attribute("data-run")
    before = _forecast(page)
    page.screenshot(path=str(tmp_path / "app.png"), full_page=False)

    # edit an actor's position: the forecast changes
    page.select_option("#model", "compromise")
    page.click("#run")
    page.wait_for_function(f"document.querySelector('#results').dataset.run !== '{first_run}'")
    base = _forecast(page)
    second = page.locator("#results").get_attribute("data-run")
    cell = page.locator('[data-field="actors[china].positions.deal"]')
    cell.fill("95")
    cell.dispatch_event("change")
    page.click("#run")
    page.wait_for_function(f"document.querySelector('#results').dataset.run !== '{second}'")
    assert _forecast(page) != base

    # a bad value in the table shows its problem next to the field
    cap = page.locator('[data-field="actors[trump].capability"]')
    cap.fill("-1")
    cap.dispatch_event("change")
    page.wait_for_selector('.field-error[data-for="actors[trump].capability"]')

    # upload a broken file: the error sits next to the right field
    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN, encoding="utf-8")
    page.set_input_files("#upload", str(f))
    page.wait_for_selector('.field-error[data-for="actors[beta].capability"]')
    assert "capability" in page.locator("#problems").inner_text()
    assert page.locator('[data-field="actors[beta].capability"]').evaluate("e => e.classList.contains('invalid')")

    # reopen the first stored run: the same forecast and charts as before
    page.locator(f'#runs tr[data-run="{first_run}"] button.open-run').click()
    page.wait_for_function(f"document.querySelector('#results').dataset.run === '{first_run}'")
    assert _forecast(page) == before
    page.wait_for_selector('#charts figure[data-chart="trajectory-deal"] svg')
    assert page.locator("#actors-table tbody tr").count() == 8
    # 422 answers to invalid input are expected; nothing else may fail
    assert not [e for e in errors if "422" not in e], errors
    page.close()


def test_advice_panel(server, browser):
    from detente import api
    from detente.analysis import advise

    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server)
    page.wait_for_selector("body[data-ready='1']")
    # the choices follow the open scenario
    assert page.locator("#advice-actor option").count() == 8
    assert page.locator("#advice-issue option").count() == 1 + 3
    page.select_option("#model", "compromise")
    page.fill("#seed", "3")
    page.select_option("#advice-actor", "dprk")
    page.select_option("#advice-issue", "deal")
    page.click("#advise")
    rows = page.locator('#advice-out .advice-issue[data-issue="deal"] tbody tr')
    rows.first.wait_for()
    heading = page.locator('#advice-out .advice-issue[data-issue="deal"] h3').inner_text()
    # the same advice computed in-process (200 draws, seed 3) is what the page shows, best lever first
    ref = advise(api.load("korea-2019"), "dprk", issue="deal", model="compromise", draws=200, seed=3, progress=False)
    deal = ref.to_dict()["issues"]["deal"]
    assert heading == f"deal: forecast {deal['forecast']:.1f}, dprk wants {deal['ideal']:.1f}"
    shown = [float(g) for g in rows.locator("td.gain").all_inner_texts()]
    assert shown == [round(l["gain_mean"], 1) for l in deal["levers"][:8]]
    assert shown == sorted(shown, reverse=True) and shown[0] > 0
    assert rows.first.locator("td").first.inner_text() == deal["best"]["lever"]
    assert not errors, errors
    page.close()


def test_report_offline(browser, tmp_path):
    from detente.report import build_report

    out = tmp_path / "report.html"
    out.write_text(build_report("korea-2019", "bdm", compare=["korea-2019-wait"]), encoding="utf-8")
    ctx = browser.new_context()
    blocked = []

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri())
    page.wait_for_load_state("load")
    assert not errors and not blocked, (errors, blocked)
    for cid in ("trajectory-deal", "trajectory-sanctions", "trajectory-exercises", "power", "comparison"):
        fig = page.locator(f'figure[data-chart="{cid}"] svg')
        assert fig.count() == 1, cid
        box = fig.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100
    page.screenshot(path=str(tmp_path / "report.png"))
    ctx.close()
