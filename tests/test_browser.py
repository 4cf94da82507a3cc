"""End to end in a real browser: chromium driven by Playwright.

CI installs Debian's chromium (``.ci/run``), so a missing browser is a
failure, not a skip. The browser is ``$DETENTE_CHROMIUM`` if set, else the
first of ``chromium``, ``chromium-browser``, ``google-chrome`` on PATH, else
``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import re
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
        yield _Patient(b)
        b.close()


class _Patient:
    """The browser, whose pages wait up to WAIT_MS for a selector (a report job drawing its charts on a loaded
    2-core machine can take over Playwright's default 30 s; the point of these tests is what the page shows)."""

    WAIT_MS = 180_000

    def __init__(self, browser):
        self._b = browser

    def new_page(self, **kw):
        page = self._b.new_page(**kw)
        page.set_default_timeout(self.WAIT_MS)
        return page

    def new_context(self, **kw):
        ctx = self._b.new_context(**kw)
        ctx.set_default_timeout(self.WAIT_MS)
        return ctx

    def __getattr__(self, name):
        return getattr(self._b, name)


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
    page.wait_for_selector('#charts figure[data-chart="trajectory-deal"] img.chart')
    assert page.locator("#charts img.chart").count() >= 4
    # each chart is drawn (an SVG image that loaded, not a broken one)
    assert page.locator('#charts figure[data-chart="trajectory-deal"] img.chart').evaluate("i => i.complete && i.naturalWidth > 100")
    # the track-record band beside the forecast, and the line saying which band is which (issue #15)
    band = page.locator('#summary tr[data-issue="deal"] td.track-record').inner_text()
    assert re.fullmatch(r"[\d.]+ \u2013 [\d.]+", band), band
    assert "input band" in page.locator("#notes p.bands-note").inner_text()
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
    page.wait_for_selector(f'#results[data-run]:not([data-run="{first_run}"])')  # (no eval: the page's CSP forbids it)
    base = _forecast(page)
    second = page.locator("#results").get_attribute("data-run")
    cell = page.locator('[data-field="actors[china].positions.deal"]')
    cell.fill("95")
    cell.dispatch_event("change")
    # the value's range stays as it was (20 to 45): the value outside it is a problem at the field,
    # until the range is widened by hand
    page.wait_for_selector('.field-error[data-for="actors[china].positions.deal"]')
    assert "outside its range [20, 45]" in page.locator('.field-error[data-for="actors[china].positions.deal"]').inner_text()
    high = page.locator('[data-high-of="actors[china].positions.deal"]')
    assert high.input_value() == "45"
    high.fill("100")
    high.dispatch_event("change")
    page.wait_for_selector('.field-error[data-for="actors[china].positions.deal"]', state="detached")
    page.click("#run")
    page.wait_for_selector(f'#results[data-run]:not([data-run="{second}"])')  # (no eval: the page's CSP forbids it)
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
    page.wait_for_selector(f'#results[data-run="{first_run}"]')
    assert _forecast(page) == before
    page.wait_for_selector('#charts figure[data-chart="trajectory-deal"] img.chart')
    assert page.locator("#actors-table tbody tr").count() == 8
    # a download carries what the run stored
    with page.expect_download() as dl:
        page.click("#dl-json")
    assert '"model": "bdm"' in Path(dl.value.path()).read_text(encoding="utf-8")
    # 422 answers to invalid input are expected; nothing else may fail
    assert not [e for e in errors if "422" not in e], errors
    page.close()


# the broken upload, its actors given colours that are not colours (and one that is)
HOSTILE = (BROKEN.replace("name: broken upload", "name: hostile colours")
           .replace("    capability: 10\n", '    capability: 10\n    color: "red; background-image: url(LEAK)"\n')
           .replace("    capability: -5\n", '    capability: -5\n    color: "url(LEAK)"\n')
           + '  - key: gamma\n    capability: 5\n    color: "#00ff00"\n    positions: {deal: 50}\n    salience: {deal: 50}\n')


def test_hostile_colour_is_never_applied(server, browser, tmp_path):
    """An invalid upload opens in the table with its problems; its colours are used only when they are colours."""
    page = browser.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server)
    page.wait_for_selector("body[data-ready='1']")
    f = tmp_path / "hostile.yaml"
    f.write_text(HOSTILE.replace("LEAK", f"{server}/leak"), encoding="utf-8")
    page.set_input_files("#upload", str(f))
    page.wait_for_selector('#actors-table tr[data-actor="gamma"]')
    page.wait_for_selector("#problems:not([hidden])")
    assert "color" in page.locator("#problems").inner_text()
    swatch = lambda k: page.locator(f'#actors-table tr[data-actor="{k}"] .swatch')  # noqa: E731
    assert swatch("alpha").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(153, 153, 153)"
    assert swatch("beta").evaluate("e => getComputedStyle(e).backgroundImage") == "none"
    assert swatch("gamma").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 255, 0)"
    assert swatch("alpha").get_attribute("style") in (None, "background-color: rgb(153, 153, 153);")
    page.wait_for_timeout(500)
    assert not [u for u in requests if "leak" in u], requests
    assert not [e for e in errors if "422" not in e], errors
    page.close()


def test_token_typed_once(browser, tmp_path):
    """A server with an access token: the page asks for it once, keeps it in the tab, and works."""
    import uvicorn

    from detente.web import create_app

    token = "a-browser-test-token-0123456789"
    port = _free_port()
    app = create_app(tmp_path / "runs.sqlite3", token=token)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    while not srv.started:
        t.join(0.05)
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#auth:not([hidden])")
        assert "access token" in page.locator("#auth-why").inner_text()
        page.fill("#token", token)
        page.click("#token-use")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#auth").is_hidden()
        assert page.locator("#actors-table tbody tr").count() == 8
        page.click("#run")
        page.wait_for_selector('#charts figure[data-chart="trajectory-deal"] img.chart')
        assert page.evaluate("sessionStorage.getItem('detente-token')") == token
        # a reload in the same tab needs no second typing
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#auth").is_hidden()
        page.close()
    finally:
        srv.should_exit = True
        t.join()


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
    # digits follow the issue's 0-100 scale (one decimal); names are display names
    assert heading == f"{deal['name']}: forecast {deal['forecast']:.1f}, {ref.to_dict()['actor_name']} wants {deal['ideal']:.1f}"
    shown = [float(g) for g in rows.locator("td.gain").all_inner_texts()]
    assert shown == [round(lv["gain"], 1) for lv in deal["levers"][:8]]
    # the levers dprk can pull come first, best first; what-ifs only others decide after them
    pull = [lv["pullable"] for lv in deal["levers"][:8]]
    assert pull == sorted(pull, reverse=True)
    own = [g for g, p in zip(shown, pull) if p]
    assert own == sorted(own, reverse=True) and own[0] > 0
    assert rows.first.locator("td").first.inner_text() == deal["best"]["lever"]
    assert not errors, errors
    page.close()


def test_what_happened_panel(server, browser):
    from detente import api
    from detente.analysis import score

    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server)
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("#model", "median")
    page.fill("#seed", "2")
    page.fill("#draws", "50")
    page.click("#score")
    rows = page.locator("#score-out table.score tbody tr")
    rows.first.wait_for()
    ref = score(api.load("korea-2019"), draws=50, seed=2).to_dict()
    assert rows.count() == len(ref["models"])
    nash = page.locator('#score-out tr[data-model="nash"] td.gain').inner_text()
    assert nash == f"{ref['models']['nash']['mae']:.1f}"
    # with draws the cell's headline is the median; the most likely branch is beside it, labelled
    cell = page.locator('#score-out tr[data-model="bdm"] td.num').first.inner_text()
    assert cell.startswith(f"median {ref['models']['bdm']['issues']['deal']['forecast']:.1f}") and "most likely branch" in cell
    assert page.locator("#score-out th").nth(1).inner_text().startswith(api.load("korea-2019").issue("deal").name)
    # explain with the model chosen above, against the record
    page.fill("#record-outcome", "deal=40")
    page.click("#explain")
    page.locator("#explain-out h3").wait_for()
    assert page.locator("#explain-out h3").inner_text().startswith("What would have had to be different (median)")
    assert not errors, errors
    # a bad outcome is a problem shown on the page (the browser logs the 422 answer), not a crash
    page.fill("#record-outcome", "deal=150")
    page.click("#score")
    page.wait_for_selector("text=outside the issue's scale")
    assert all("422" in e for e in errors), errors
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


def test_api_docs_page_under_the_csp(server, browser):
    """The API reference renders under the server's Content-Security-Policy, with nothing refused."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/docs")
    page.wait_for_selector("#ops details.op")
    assert page.locator("#ops details.op").count() >= 15
    assert page.locator(".op .method.post").first.evaluate("e => getComputedStyle(e).fontWeight") == "700"
    assert not errors, errors
    page.close()
