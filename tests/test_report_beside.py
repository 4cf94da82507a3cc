"""The report's faster paths change nothing it shows (issue #17).

* The record's section ("What happened") computes beside the drawing, in a
  forked child or a thread (:class:`detente.report.build._Beside`); its data
  must be what :func:`detente.report.record.record_data` gives when called on
  its own, and its errors must reach the caller.
* Its score takes the report's own Monte Carlo (``score(given=...)``) only
  when those are the draws it would make.
* The perspective map is laid out on a fixed grid instead of matplotlib's
  constrained layout, and saved without cropping: nothing may overlap or fall
  off the page.
"""

from __future__ import annotations

import os
import re
import threading

import numpy as np
import pytest

import detente
from detente.analysis import monte_carlo, score
from detente.errors import DetenteError, Problem
from detente.report import build, render
from detente.report.record import record_data

FLAGSHIP = "korea-2019"


def _fail() -> None:
    raise DetenteError([Problem("x.yaml", 3, "record", "a reason")])


@pytest.fixture(params=["fork", "thread"])
def beside_mode(request, monkeypatch):
    """Run _Beside both ways: a forked child (one thread in the process) or a worker thread (more threads).

    The suite's process has other threads by now (servers, clusters, pools of earlier tests), so the
    fork path is tested in a fresh interpreter (:func:`_fresh`) and this fixture stands for the thread path
    and for the fork decision itself."""
    monkeypatch.setattr(build.threading, "active_count", lambda: 2 if request.param == "thread" else 1)
    return request.param


def _fresh(body: str) -> None:
    """Run ``body`` in a new interpreter (one thread, as the command line is) and fail on its failure."""
    import subprocess
    import sys
    import textwrap

    code = "import threading\nassert threading.active_count() == 1\n" + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900,
                          cwd=os.path.dirname(os.path.abspath(__file__)))
    assert done.returncode == 0, done.stdout + done.stderr


def test_beside_returns_the_value_and_raises_the_error(beside_mode):
    if beside_mode == "fork":
        _fresh("""
            from test_report_beside import _check_beside_value_and_error
            _check_beside_value_and_error(fork=True)
        """)
    else:
        _check_beside_value_and_error(fork=False)


def _check_beside_value_and_error(fork: bool) -> None:
    job = build._Beside(lambda: {"a": [1.5, None], "b": "x"})
    assert (job._proc is not None) == fork
    assert job.result() == {"a": [1.5, None], "b": "x"}
    job = build._Beside(_fail)
    with pytest.raises(DetenteError) as e:
        job.result()
    assert "a reason" in e.value.report() and "x.yaml" in e.value.report()


def test_beside_without_a_thread_runs_when_asked(monkeypatch):
    """Where forking is unsafe, a step that would only hold the GIL in a thread (drawing charts) runs when
    its value is wanted, once, and its error reaches the caller then."""
    monkeypatch.setattr(build.threading, "active_count", lambda: 2)
    ran: list[int] = []
    job = build._Beside(lambda: ran.append(1) or "drawn", thread=False)
    assert ran == [] and job._proc is None and job._thread is None
    assert job.result() == "drawn" and ran == [1]
    job.stop()  # nothing to stop
    job = build._Beside(_fail, thread=False)
    with pytest.raises(DetenteError):
        job.result()


def test_beside_child_kernels_use_one_thread_until_the_parent_waits():
    """The forked child's kernels run on one thread while the parent draws (a core each), and on the
    default threads once the parent waits for the value; a DETENTE_THREADS the user set is kept."""
    _fresh("""
        import os, time
        from detente.models import _jit
        from detente.report import build
        os.environ.pop("DETENTE_THREADS", None)
        default = _jit.default_threads()

        def watch():
            seen = [_jit.threads()]
            deadline = time.monotonic() + 60
            while _jit.threads() == seen[0] and time.monotonic() < deadline:
                time.sleep(0.01)
            return seen + [_jit.threads()]

        job = build._Beside(watch)
        time.sleep(0.5)  # the child sees one thread while the parent has not asked for the value
        assert job.result() == [1, default], job
        assert _jit.threads() == default  # the parent's own setting is untouched

        # a child that ended before the parent asks: asking does not wait on it (a hang here once)
        job = build._Beside(lambda: 5)
        job._proc.join(60)
        assert not job._proc.is_alive()
        got = []
        asking = threading.Thread(target=lambda: got.append(job.result()), daemon=True)
        asking.start()
        asking.join(60)
        assert got == [5]

        os.environ["DETENTE_THREADS"] = "3"
        job = build._Beside(lambda: [_jit.threads(), _jit.threads()])
        assert job.result() == [3, 3]
    """)


def test_beside_stop_ends_a_child_at_once():
    _fresh("""
        import time
        from detente.report import build
        job = build._Beside(lambda: time.sleep(120))
        proc = job._proc
        assert proc is not None and proc.is_alive()
        t = time.perf_counter()
        job.stop()
        assert not proc.is_alive() and time.perf_counter() - t < 30
        job.stop()  # a second stop does nothing
    """)


def test_record_section_beside_is_the_record_alone(beside_mode):
    """The report's record section (computed beside the drawing, its score reusing the report's draws)
    equals record_data computed on its own, drawing everything itself."""
    if beside_mode == "fork":
        _fresh("""
            from test_report_beside import _check_record_section
            _check_record_section()
        """)
    else:
        _check_record_section()


def _check_record_section() -> None:
    data = build.compute(FLAGSHIP, "bdm", draws=120, seed=5, sensitivity=False, figures=False, record=True)
    alone = record_data(detente.load(FLAGSHIP), "bdm", {}, draws=120, seed=5, budget=None)
    assert data["record"] == alone
    assert set(data["record"]["score"]["models"]) >= {"bdm", "compromise"}


def test_report_html_does_not_depend_on_where_the_record_ran():
    """Every section and table of the report is the same, the record computed in a child or a thread
    (charts aside: their SVG carries matplotlib's random ids). In a fresh interpreter: the fork path
    needs a process with one thread."""
    _fresh("""
        from test_report_beside import _check_html_same_both_ways
        _check_html_same_both_ways()
    """)


def _check_html_same_both_ways() -> None:
    """With the sensitivity analysis too: in a forked child it (and its charts) follows the record's section
    there unless the report's own process took it first (a shared step), and its charts take their place among
    the others; every chart is the same SVG, matplotlib's random ids for clip paths and markers renamed in
    order of appearance."""
    def html() -> str:
        data = build.compute(FLAGSHIP, "bdm", draws=80, seed=2, sensitivity=True, record=True)
        data["meta"].pop("created")
        ids: dict[str, str] = {}
        # clip paths and markers (p..., m...) and a scatter's marker paths (C0_0_...)
        return re.sub(r"\b((?:[pm]|C\d+_\d+_)[0-9a-f]{10})\b", lambda m: ids.setdefault(m.group(1), f"id{len(ids)}"),
                      render(data))

    assert threading.active_count() == 1
    fork = html()
    parent, real_take = os.getpid(), build._Shared.take
    try:  # each shared step (the score, the sensitivity) computed by the child alone, then by the parent alone
        for who in ("child", "parent"):
            build._Shared.take = lambda self, name, who=who: (os.getpid() == parent) == (who == "parent")
            assert html() == fork, who
    finally:
        build._Shared.take = real_take
    real = build.threading.active_count
    build.threading.active_count = lambda: 2  # the thread path, as in the web app
    try:
        thread = html()
    finally:
        build.threading.active_count = real
    assert fork == thread
    assert 'id="record"' in fork and "Every model against the record" in fork
    assert fork.count(": sensitivity</title>") == 3  # the sensitivity's charts, one per issue, in their place


def test_score_takes_given_draws_only_when_they_are_its_own(monkeypatch):
    scen = detente.load(FLAGSHIP)
    plain = score(scen, ["bdm", "compromise"], draws=150, seed=4, progress=False)
    same = monte_carlo(scen, "bdm", draws=150, seed=4, progress=False, by_round=True, chunk=50)
    other_seed = monte_carlo(scen, "bdm", draws=150, seed=9, progress=False)
    fewer = monte_carlo(scen, "bdm", draws=100, seed=4, progress=False)
    other_params = monte_carlo(scen, "bdm", draws=150, seed=4, progress=False, params={"rounds": 3})
    ran: list[str] = []
    real = score.__globals__["monte_carlo"]

    def counting(scen_, m, **kw):
        ran.append(m)
        return real(scen_, m, **kw)

    monkeypatch.setitem(score.__globals__, "monte_carlo", counting)
    planned: list[str] = []
    real_plan = score.__globals__["plan_monte_carlo"]

    def planning(scen_, m, *a, **kw):
        planned.append(m)
        return real_plan(scen_, m, *a, **kw)

    monkeypatch.setitem(score.__globals__, "plan_monte_carlo", planning)
    given = score(scen, ["bdm", "compromise"], draws=150, seed=4, progress=False, given={"bdm": same})
    assert ran == ["compromise"]  # bdm's draws were given
    assert planned == ["compromise"]  # and its budget plan counts only the Monte Carlo it runs (as plan_record does)
    assert given.table.equals(plain.table)
    for wrong in (other_seed, fewer, other_params, same):
        ran.clear()
        key = "compromise" if wrong is same else "bdm"  # bdm's draws handed to another model are not its own
        res = score(scen, ["bdm", "compromise"], draws=150, seed=4, progress=False, given={key: wrong})
        assert ran == ["bdm", "compromise"]
        assert res.table.equals(plain.table)


def test_perspective_map_fits_its_page_without_overlaps():
    """The fixed grid: every text inside the figure, panels' decorations clear of each other, on the
    flagship and on a scenario with long actor names and large stakes. Where the grid does not fit and the
    map falls back to matplotlib's constrained layout (cropped when saved), the same holds on the cropped
    page: the fallback panels are checked too, and the long names and stakes do reach it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    from detente.models import bdm
    from detente.report import charts
    from detente.report._adapt import perspective_panels

    base = detente.load(FLAGSHIP).model_dump(mode="json")
    long = detente.load(FLAGSHIP).model_dump(mode="json")
    for a in long["actors"]:
        a["name"] = a["name"] + " and its many allies abroad"
    fallbacks: list[tuple[float, str]] = []
    checked = 0
    for raw, stake in ((base, 1.0), (long, -123456.7), (long, 3.3e-4)):  # stakes with long tick labels, too
        scen = detente.load(raw)
        view = bdm.perspective(scen.to_inputs())
        for key, x, y in perspective_panels(view, scen):
            fig = charts.quadrant_figure(scen, key, stake * x, stake * y, axis_labels=(view.x_label, view.y_label),
                                         quadrants=view.quadrants, title=view.title)
            FigureCanvasAgg(fig)
            r = fig.canvas.get_renderer()
            fig.draw(r)
            page = fig.bbox
            if getattr(fig, "_detente_tight", False):  # fell back to the constrained layout: cropped when saved
                fallbacks.append((stake, key))
                # the constrained layout is kept as the labels were placed for it (no layout engine runs again)
                assert charts._bbox(fig) == "tight" and type(fig.get_layout_engine()).__name__ == "PlaceHolderLayoutEngine"
                pad = fig.dpi * float(__import__("matplotlib").rcParams["savefig.pad_inches"])
                crop = fig.get_tightbbox(r)  # inches: what savefig keeps
                page = Bbox.from_extents(crop.x0 * fig.dpi - pad, crop.y0 * fig.dpi - pad,
                                         crop.x1 * fig.dpi + pad, crop.y1 * fig.dpi + pad)
            # each panel with everything drawn on it (tick labels, titles, captions, point labels)
            boxes = [ax.get_tightbbox(r) for ax in fig.axes if ax.get_visible()]
            boxes.append(fig._suptitle.get_window_extent(r))
            for i, a in enumerate(boxes):
                assert page.x0 - 1 <= a.x0 and a.x1 <= page.x1 + 1 and page.y0 - 1 <= a.y0 and a.y1 <= page.y1 + 1, \
                    (key, i, a, page)
                for b in boxes[i + 1:]:
                    w = min(a.x1, b.x1) - max(a.x0, b.x0)
                    h = min(a.y1, b.y1) - max(a.y0, b.y0)
                    assert not (w > 0 and h > 0), (key, stake, a, b)
            svg = charts.to_svg(fig, "t")
            assert svg.startswith("<svg") and np.isfinite(x).any()
            checked += 1
    assert checked == 9
    assert not [f for f in fallbacks if f[0] == 1.0], fallbacks  # the flagship's maps fit the fixed grid
    assert fallbacks, "no map fell back to the constrained layout: the fallback went untested"


def test_at_most_one_child_beside_the_report(tmp_path):
    """With a record section computing in a child, the perspective map is drawn in the report's own
    process: a third process on two cores made the whole report slower (9.9-12.9 s against 8.7-8.9 s
    before the map moved beside, at idle). Without a record section, the map is drawn in the child when
    matplotlib draws PNG files too; the SVG charts alone (a few milliseconds each) need no child."""
    _fresh(f"""
        from test_report_beside import _children_forked
        assert _children_forked(record=True) == ["record"], _children_forked(record=True)
        assert _children_forked(record=False, png={str(tmp_path)!r}) == ["perspective"]
        assert _children_forked(record=False) == [], _children_forked(record=False)
        assert _children_forked(record=True, png={str(tmp_path)!r}) == ["record"]
    """)


def _children_forked(record: bool, png: str | None = None) -> list[str]:
    forked: list[str] = []
    real = build._Beside.__init__

    def counting(self, fn, thread=True, fork=True):
        real(self, fn, thread=thread, fork=fork)
        if self._proc is not None:
            forked.append("perspective" if not thread else "record")

    build._Beside.__init__ = counting
    try:
        build.compute(FLAGSHIP, "bdm", draws=40, seed=2, sensitivity=False, record=record, png_dir=png)
    finally:
        build._Beside.__init__ = real
    return forked
