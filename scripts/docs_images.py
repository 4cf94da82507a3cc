"""Regenerate the pictures in docs/img from the flagship run (``make docs-img``).

* ``docs/img/report.png``: the Monte Carlo panel of ``detente report korea-2019 --model bdm
  --draws 1000 --seed 1`` (the forecast line is the median of the draws, the most likely branch
  beside it).
* ``docs/img/web-app.png``: the web app with the same run (bdm, 1,000 draws, seed 1) open.

Needs the test extras (playwright) and a chromium (``DETENTE_CHROMIUM``, else ``chromium`` on the
PATH, else /usr/bin/chromium). Everything runs on this machine; nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
RUN = ["korea-2019", "--model", "bdm", "--draws", "1000", "--seed", "1"]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
WAIT_MS = 300_000


def chromium() -> str:
    for c in (os.environ.get("DETENTE_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
              "/usr/bin/chromium"):
        if c and Path(c).is_file():
            return c
    sys.exit("no chromium found: install it (apt-get install -y chromium) or set DETENTE_CHROMIUM")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def report_png(browser, tmp: Path) -> None:
    html = tmp / "report.html"
    subprocess.run([sys.executable, "-m", "detente", "report", *RUN, "-o", str(html)], check=True)
    page = browser.new_page(viewport={"width": 1150, "height": 1600})
    page.goto(html.as_uri())
    page.locator("#monte_carlo").scroll_into_view_if_needed()
    page.evaluate("() => document.getElementById('monte_carlo').scrollIntoView()")
    page.screenshot(path=str(IMG / "report.png"))
    page.close()


def web_png(browser, tmp: Path) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "detente", "serve", "--port", str(port),
                               "--store", str(tmp / "runs.sqlite3")])
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']")
        page.select_option("#model", "bdm")
        page.fill("#seed", "1")
        page.fill("#draws", "1000")
        page.click("#run")
        page.wait_for_selector('#charts figure[data-chart="fan-deal"] img.chart')
        page.locator("#results").scroll_into_view_if_needed()
        page.screenshot(path=str(IMG / "web-app.png"))
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    from playwright.sync_api import sync_playwright

    IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=ARGS)
        try:
            report_png(browser, Path(d))
            web_png(browser, Path(d))
        finally:
            browser.close()
    print(f"wrote {IMG / 'report.png'} and {IMG / 'web-app.png'}")


if __name__ == "__main__":
    main()
