"""Compute everything a report shows, as one JSON-able dict.

:func:`compute` runs the forecast (and Monte Carlo and sensitivity analysis,
and the comparison of variants), draws
every chart as inline SVG and returns a plain dict: the *report data*. The
HTML report (:mod:`detente.report.html`) and the web app both render from
that dict, and the web app's run store keeps it, so a stored run shows exactly
what was shown when it ran.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence, cast

import numpy as np

from .. import models as registry
from .._cancel import Cancelled  # raised when a run is cancelled between two of its steps
from ..api import forecast, load
from ..calibrate import band_note
from ..engine import resolve_model
from ..serialize import input_sha256, meta, threshold_probability
from . import _svg
from ._adapt import monte_carlo_arrays, oat_chart_rows, perspective_panels

Progress = Callable[[float, str], None]


# ----------------------------------------------------------------------------- helpers


def scenario_tables(scen: Any) -> dict[str, Any]:
    """The scenario's inputs as plain rows: issues, actors (with rationales), events, sources."""
    issues = [
        {
            "key": i.key, "name": i.name, "description": i.description, "scale": list(i.scale), "decimals": i.decimals,
            "labels": [[float(k), v] for k, v in sorted(i.labels.items())], "status_quo": i.status_quo,
            "thresholds": [t.model_dump() for t in i.thresholds],
        }
        for i in scen.issues
    ]
    colors = _svg.actor_colors(scen)
    actors = [
        {
            "key": a.key, "name": a.name, "group": a.group, "color": colors[a.key], "notes": a.notes,
            # each value as a dict of the fields set: number, range, distribution, rationale
            "capability": a.capability.model_dump(exclude_none=True),
            "positions": {k: v.model_dump(exclude_none=True) for k, v in a.positions.items()},
            "salience": {k: v.model_dump(exclude_none=True) for k, v in a.salience.items()},
        }
        for a in scen.actors
    ]
    events = [
        {"key": e.key, "name": e.name, "type": e.type, "round": scen.event_round(e), "actor": e.actor,
         "probability": e.probability, "why": e.why, "source": e.source}
        for e in scen.events
    ]
    return {"issues": issues, "actors": actors, "events": events, "sources": list(scen.sources),
            "salience_scale": scen.salience_scale}


class _Steps:
    """Progress reporting and cancellation between the steps of a run."""

    def __init__(self, progress: Progress | None, cancel: threading.Event | None):
        self.progress, self.cancel = progress, cancel

    def __call__(self, frac: float, message: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()
        if self.progress is not None:
            self.progress(frac, message)


class Chart(NamedTuple):
    """A chart of the report, to be drawn: its kind and the arguments of its writer.

    The report's SVG comes from the writer of that name in :mod:`._svg` (a few milliseconds a chart, no
    matplotlib), where there is one, else from matplotlib (:mod:`.charts`' ``<kind>_figure``, through
    :func:`.charts.to_svg`); PNG files always come from matplotlib's figure. Plain data, so that a chart can be
    sent to the report's child process."""

    kind: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def _chart(kind: str, *args: Any, **kwargs: Any) -> Chart:
    return Chart(kind, args, kwargs)


class _Charts(list):
    """The charts of a report as SVG, optionally also written as PNG files; none when not ``drawn``."""

    def __init__(self, png_dir: Path | None = None, dpi: int = 150, drawn: bool = True):
        super().__init__()
        self.png_dir, self.dpi, self.drawn = png_dir, dpi, drawn
        self.pngs: list[Path] = []

    def add(self, section: str, cid: str, title: str, chart: Chart) -> None:
        if not self.drawn:
            return
        writer = _svg.WRITERS.get(chart.kind)
        fig = None
        if writer is not None:
            svg = writer(*chart.args, svg_title=title, **chart.kwargs)
        else:
            fig = _figure(chart)
            svg = _charts().to_svg(fig, title)
        self.append({"section": section, "id": cid, "title": title, "svg": svg})
        if self.png_dir is not None:
            self.pngs.append(_charts().to_png(fig if fig is not None else _figure(chart), self.png_dir / f"{cid}.png",
                                              dpi=self.dpi))


def _charts() -> Any:
    """:mod:`.charts` (matplotlib), imported only when a chart has no SVG writer of its own or PNG files are
    asked for."""
    from . import charts

    return charts


def _figure(chart: Chart) -> Any:
    """The chart as a matplotlib figure (:mod:`.charts`' ``<kind>_figure``)."""
    return getattr(_charts(), f"{chart.kind}_figure")(*chart.args, **chart.kwargs)


def _forks() -> bool:
    """Whether a :class:`_Beside` made now runs in a forked child (one thread in this process, and ``fork``)."""
    return hasattr(os, "fork") and threading.active_count() == 1


class _Beside:
    """A step of the report computed beside the drawing of the charts, on another core.

    In a process with one thread (the command line) the step runs in a forked
    child process, which sends its JSON-able value back through a pipe; where
    forking is not safe (other threads running, as in the web app, or no
    ``fork``) it runs in a worker thread (the models' compiled kernels release
    the GIL, so it still overlaps the drawing in part), or, with ``thread``
    False (a step in Python throughout, such as drawing charts), when
    :meth:`result` asks for it. The value does not
    depend on where it ran: every step is seeded. :meth:`result` waits and
    returns the value, or raises the step's exception in the caller;
    :meth:`stop` ends the child of an abandoned report.

    A forked child runs the models' kernels on one thread (``DETENTE_THREADS``) while the parent
    still draws, so that the two processes have a core each (a child with two kernel threads took
    a share of the parent's core: the parent's drawing is the longer of the two), and on every
    thread once the parent waits for its value (:meth:`result`). The kernels' split of rows over
    threads changes no number (:func:`detente.models._jit.split_rows`).
    """

    def __init__(self, fn: Callable[[], Any], thread: bool = True, fork: bool = True):
        self._value: Any = None
        self._waiting: Any = None
        self._error: BaseException | None = None
        self._proc: Any = None
        self._thread: threading.Thread | None = None
        self._later: Callable[[], Any] | None = None
        if fork and _forks():
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            self._conn, child = ctx.Pipe(duplex=False)
            # 1 once the parent waits: the child's kernels may then use every thread (a flag in shared memory,
            # which never blocks the parent, unlike an Event whose waiter may be a child that has ended)
            self._waiting = ctx.RawValue("b", 0)
            self._proc = ctx.Process(target=_child, args=(fn, child, self._waiting), name="detente-report-step",
                                     daemon=True)
            self._proc.start()
            child.close()
        elif thread:
            self._thread = threading.Thread(target=self._run, args=(fn,), name="detente-report-step", daemon=True)
            self._thread.start()
        else:  # not worth a thread (it would hold the GIL): computed when its value is wanted
            self._later = fn

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self._value = fn()
        except BaseException as e:  # handed to the caller by result()
            self._error = e

    def result(self) -> Any:
        if self._proc is not None:
            self._waiting.value = 1
            try:
                ok, payload = self._conn.recv()
            except EOFError:  # the child died without a word (killed, out of memory)
                ok, payload = False, RuntimeError(f"the report's background step ended with exit code "
                                                  f"{self._proc.exitcode}")
            self._proc.join()
            self._conn.close()
            self._proc = None
            if not ok:
                raise payload
            return payload
        if self._later is not None:
            fn, self._later = self._later, None
            return fn()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value

    def stop(self) -> None:
        """End the step's child process, if it still runs (a thread finishes on its own)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
            self._conn.close()
            self._proc = None


def _child(fn: Callable[[], Any], conn: Any, waiting: Any = None) -> None:
    """A :class:`_Beside` child: run ``fn`` and send ``(True, value)`` or ``(False, exception)``.

    Until ``waiting.value`` is 1 (the parent waits for the value) the kernels run on one thread, unless
    ``DETENTE_THREADS`` says otherwise; then on as many as before."""
    from ..models._jit import THREADS_ENV  # the kernels' threads, read at every batch

    if waiting is not None and not os.environ.get(THREADS_ENV, "").strip():
        os.environ[THREADS_ENV] = "1"

        def widen() -> None:
            while not waiting.value:
                time.sleep(0.02)
            os.environ.pop(THREADS_ENV, None)

        threading.Thread(target=widen, name="detente-report-step-threads", daemon=True).start()
    try:
        out: tuple[bool, Any] = (True, fn())
    except BaseException as e:
        out = (False, e)
    try:
        conn.send(out)
    except Exception as e:  # an exception that does not pickle: its message
        conn.send((False, RuntimeError(f"{type(out[1]).__name__}: {out[1]}" if not out[0] else str(e))))
    conn.close()


# ----------------------------------------------------------------------------- analyses


def _run_monte_carlo(scen: Any, model: str, params: dict, draws: int, seed: int | None, step: "_Steps",
                     budget: Any = None) -> Any:
    """Monte Carlo with every round kept (for the fan chart) and the most likely branch beside it,
    reporting progress per chunk."""
    from ..analysis import monte_carlo

    def on_chunk(done: int, total: int) -> None:
        step(0.08 + 0.4 * done / total, f"Monte Carlo: {done:,} of {total:,} draws")

    return monte_carlo(scen, model, draws=draws, seed=int(seed or 0), params=params, progress=False,
                       by_round=True, on_chunk=on_chunk, chunk=250, budget=budget)


def _run_sensitivity(scen: Any, model: str, params: dict, seed: int | None, budget: Any = None) -> dict:
    """One-at-a-time sensitivity's rows for the tornado charts (as plain rows: no pandas on the report's path)."""
    from ..analysis.sensitivity import oat_rows

    return oat_chart_rows(*oat_rows(scen, model, params=params, seed=int(seed or 0), budget=budget))


# ----------------------------------------------------------------------------- compute


#: Bytes per draw and issue of the Monte Carlo data a report keeps (Python floats in lists, and their JSON).
REPORT_BYTES_PER_DRAW_ISSUE = 120
#: Seconds of drawing per actor and issue: one line and legend entry of an issue's trajectory chart
#: (measured: a 300 actors x 10 issues report spends about 2 minutes in matplotlib).
REPORT_SECONDS_PER_ACTOR_ISSUE = 0.03


def plan_report(scen: Any, model: str | None, params: dict[str, Any], *, draws: int = 0, sensitivity: bool = True,
                compare: Sequence[Any] = (), budget: Any = None, figures: bool = True, record: bool = False) -> float:
    """Check every step of a report against the budget before the first starts; the estimated seconds.

    Each step is checked on its own for memory, rounds and runs (they run one
    after another); their computing times add up, with the drawing of the
    trajectory charts (:data:`REPORT_SECONDS_PER_ACTOR_ISSUE`).
    """
    from ..analysis.montecarlo import check_draws, plan_monte_carlo
    from ..analysis.sensitivity import plan_oat
    from ..budget import check_total, plan_scenario, resolve_budget
    from ..engine import model_params

    b = resolve_budget(budget)
    unbounded = type(b)(seconds=float("inf"), memory=b.memory, draws=b.draws, rounds=b.rounds)
    model, params = resolve_model(scen, model, params)
    p = model_params(model, params)
    ex = set(params)
    total = plan_scenario(f"forecast ({model})", scen, model, p, ex, 1, budget=unbounded, history=True).seconds
    if figures:
        total += len(scen.actors) * len(scen.issues) * REPORT_SECONDS_PER_ACTOR_ISSUE
    if draws:
        n = check_draws(draws)
        D = len(scen.issues)
        total += plan_monte_carlo(scen, model, p, ex, n, budget=unbounded, chunk=250, by_round=True,
                                  ).seconds
        # the draws' final forecasts kept for the charts and the stored run
        plan_scenario(f"Monte Carlo ({model}) for the report", scen, model, p, ex, n, budget=unbounded, chunk=250,
                      by_round=True, held_per_run=D * REPORT_BYTES_PER_DRAW_ISSUE)
    if sensitivity:
        total += plan_oat(scen, model, p, ex, True, unbounded).seconds
    for c in [scen, *compare] if compare else []:  # with draws, every variant (and the scenario again) by its draws
        total += (plan_monte_carlo(load(c), model, p, ex, check_draws(draws), budget=unbounded, further=False).seconds if draws
                  else plan_scenario(f"compare ({model})", load(c), model, p, ex, 1, budget=unbounded).seconds)
    if record:
        from .record import plan_record

        total += plan_record(scen, model, params, draws, unbounded)
    check_total("the report", total, b)
    return total


def _moves(rdict: dict[str, Any], scen: Any = None) -> list[dict[str, Any]]:
    """Every move the model reports in its history (``moves`` of each round), flat.

    Rows ``{round, actor, issue, from, to, counterpart, why}``, from the
    model's ``moves`` hook (see :mod:`detente.models.base`); none for a model
    without moves. ``actor``, ``issue`` and ``counterpart`` stay keys (for
    machines); ``why`` is for people, so the counterpart's key and an issue key
    after "on " that a model wrote into it become display names (:func:`_named`).
    """
    actors = {} if scen is None else {a.key: a.short_name() for a in scen.actors}
    issues = {} if scen is None else {i.key: i.short_name() for i in scen.issues}
    return [
        {"round": h["round"], "actor": m["actor"], "issue": m["issue"], "from": m["from"], "to": m["to"],
         "counterpart": m["counterpart"], "why": _named(m["why"], m["counterpart"], actors, issues)}
        for h in rdict.get("history", [])
        for m in h.get("moves", [])
    ]


#: How a note names a choice the reader can make, per interface (the CLI's flags, the web app's controls).
CONTROLS: dict[str, dict[str, str]] = {
    "cli": {"model": "run with --model {name}"},
    "web": {"model": "pick {name} in the Model menu"},
}


def _named(text: str, counterpart: str | None, actors: dict[str, str], issues: dict[str, str]) -> str:
    """A move's ``why`` with the counterpart's key (after "with", "to", "by" or ": ") and issue keys after "on "
    as display names."""
    if not isinstance(text, str) or not text:
        return text
    if counterpart is not None and counterpart in actors:
        name = actors[counterpart]
        text = re.sub(r"(\b(?:with|to|by) |: )" + re.escape(counterpart) + r"(?![\w.-])", lambda m: m.group(1) + name, text)
    for k in sorted(issues, key=len, reverse=True):
        text = re.sub(r"(?<=\bon )" + re.escape(k) + r"(?![\w.-])", issues[k].replace("\\", "\\\\"), text)
    return text


def compute(
    scenario: Any,
    model: str | None = None,
    params: dict[str, Any] | None = None,
    *,
    seed: int | None = None,
    draws: int = 0,
    sensitivity: bool = True,
    compare: Sequence[Any] = (),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    png_dir: str | Path | None = None,
    budget: Any = None,
    interface: str = "cli",
    figures: bool = True,
    record: bool = False,
) -> dict[str, Any]:
    """Forecast a scenario and gather every table and chart of its report.

    Parameters
    ----------
    scenario : Scenario, path, shipped name or dict
    model : str, optional
        Default: the scenario's own model choice, else ``compromise``.
    params : dict, optional
        The model's parameters.
    seed : int, optional
    draws : int
        Monte Carlo draws (0: none). With draws the forecast is the median of
        the draws (band and threshold probabilities beside it); the most likely
        branch is shown beside it, labelled.
    sensitivity : bool
        Run the one-at-a-time sensitivity analysis.
    compare : sequence of scenarios
        Further scenarios (variants) to forecast with the same model and compare.
    progress : callable(fraction, message), optional
    cancel : threading.Event, optional
        When set, the run stops at its next step with :class:`Cancelled`.
    png_dir : path, optional
        Also write every chart as a PNG file there (``pngs`` lists them).
    budget : Budget, optional
        The compute budget; the whole report is checked before it starts
        (:func:`plan_report`).
    figures : bool
        Draw the charts and the model's perspective map (default). Without
        them (``kind`` is ``detente-forecast``, ``charts`` empty) the data
        holds what a forecast answers: the forecast, its summary, moves and
        notes, and the analyses asked for, in a fraction of the time; build
        the report from the same arguments when it is wanted.
    record : bool
        For a scenario that records what happened: score every model against
        the record and explain it with the report's model (``record``; about
        ten seconds more, so off by default here and on in :func:`build_report`).
    interface : {"cli", "web"}
        Who reads the notes: a note that suggests a choice names the CLI's flag
        or the web app's control (:data:`CONTROLS`).

    Returns
    -------
    dict
        The report data: ``scenario`` (name, description, date), ``inputs``
        (:func:`scenario_tables`), ``result`` (the forecast's JSON contract:
        with draws, the median's, with the most likely branch's history),
        ``charts`` (list of ``{section, id, title, svg}``), ``summary`` rows
        (:func:`summary_rows`), ``monte_carlo``/``sensitivity``/``comparison``
        (or None), ``moves`` (every move the model reports, see
        :func:`_moves`), ``perspective`` (title and description of the model's
        perspective map, or None), ``notes`` and ``meta``.

    Raises
    ------
    DetenteError
        For a bad scenario, model or parameter.
    Cancelled
        When ``cancel`` was set.
    """
    step = _Steps(progress, cancel)
    step(0.02, "loading the scenario")
    scen = load(scenario)
    model, params = resolve_model(scen, model, params)  # one choice for the forecast and every analysis
    compare = [load(c) for c in compare]
    # a shipped scenario's usual report: its record section was computed when detente was built (_shipped)
    shipped = _shipped_record(scen, model, params, draws, seed) if record else None
    record = record and shipped is None
    plan_report(scen, model, params, draws=draws, sensitivity=sensitivity, compare=compare, budget=budget,
                figures=figures, record=record)
    png = Path(png_dir) if png_dir is not None else None
    if png is not None and figures:
        _charts()  # matplotlib draws the PNG files: imported before any child is forked (a missing extra says so here)
    # with PNG files (drawn by matplotlib, 0.1-0.7 s a chart) and no record section to compute, the charts that need
    # no forecast (the perspective map, the power chart) start at once in a forked child, beside the Monte Carlo and
    # the other charts; the report's own process takes those the child has not begun when its own are drawn
    # (_Early). Without PNG files every chart is a few milliseconds of SVG (._svg): a child would cost more than
    # it saves (0.1-0.15 CPU s more per report at load 8)
    early = (_Early(scen, model, params, png, CONTROLS.get(interface, CONTROLS["cli"]))
             if figures and not record and png is not None and _forks() else None)
    try:
        result, mc = _forecasts(scen, model, params, seed, draws, step, budget)
    except BaseException:
        if early is not None:
            early.job.stop()
        raise
    # the record's section needs nothing more of the report (its score takes the report's draws): it runs
    # beside the drawing (see _Beside). In a forked child its explanation comes first; the section's score and
    # the sensitivity analysis (with its charts) are shared steps (_Shared): each is computed by whichever
    # process reaches it first, the child after the explanation or the parent after its drawing, so that the two
    # processes end near together whatever each one's share of the machine
    forks = _forks()
    shared = _Shared(("score", "sensitivity")) if record and forks else None
    with_sens = bool(shared is not None and sensitivity)

    def beside() -> Any:
        if shared is None:  # a thread, or no fork: the whole section here, the sensitivity in the caller
            return _record(scen, result.model, params, draws, seed, budget, mc)
        out: dict[str, Any] = {"explain": _record_part("explain", scen, result.model, params, draws, seed, budget)}
        if out["explain"] is not None and shared.take("score"):
            out["score"] = _record_part("score", scen, result.model, params, draws, seed, budget, mc)
        if with_sens and shared.take("sensitivity"):
            drawn = _Charts(png, drawn=figures)
            sens = _sensitivity(drawn, scen, result.model, params, seed, budget, _Steps(None, None))
            out["sensitivity"] = (sens, list(drawn), [str(p) for p in drawn.pngs])
        return out

    record_job = _Beside(beside, fork=forks) if record else None
    jobs: list[_Beside] = [] if record_job is None else [record_job]
    if early is not None:
        jobs.append(early.job)
    try:
        return _compute(scen, result, mc, params, compare, seed, draws, sensitivity, budget, interface, figures,
                        record_job, png_dir, step, jobs, shared=shared, shipped=shipped, early=early)
    finally:
        for job in jobs:
            job.stop()  # cancelled or failed before its value was wanted


class _Shared:
    """Steps of the report that either its forked child or the report's own process computes: each is taken
    once, by whichever asks first (a flag per step in shared memory, set under its lock). Made before the child
    is forked. Every step is seeded, so its value does not depend on who computed it."""

    def __init__(self, names: Sequence[str]):
        import multiprocessing

        self.names = list(names)
        self._taken = multiprocessing.get_context("fork").Array("b", len(self.names))  # with a lock

    def take(self, name: str) -> bool:
        """True for the first caller of ``name`` (in either process), False after."""
        i = self.names.index(name)
        with self._taken.get_lock():
            if self._taken[i]:
                return False
            self._taken[i] = 1
            return True


def _compute(scen: Any, result: Any, mc: Any, params: dict[str, Any], compare: list[Any], seed: int | None,
             draws: int, sensitivity: bool, budget: Any, interface: str, figures: bool, record_job: "_Beside | None",
             png_dir: Any, step: "_Steps", jobs: "list[_Beside] | None" = None,
             shared: "_Shared | None" = None, shipped: dict[str, Any] | None = None,
             early: "_Early | None" = None) -> dict[str, Any]:
    """:func:`compute` after the forecast, with the record's section and the perspective map computing beside it."""
    model = result.model
    out_charts = _Charts(Path(png_dir) if png_dir is not None else None, drawn=figures)
    if out_charts.png_dir is not None:
        out_charts.png_dir.mkdir(parents=True, exist_ok=True)
    rdict = mc.to_dict(history=True) if mc is not None else result.to_dict()
    notes = list(rdict["meta"].get("notes", []))
    # the perspective map is a chart of the report: with PNG files its figures (matplotlib's heaviest) are drawn
    # beside the others (beside only when no record section computes beside already: a third process on two cores
    # made the whole report slower, 9.9-12.9 s against 8.7-8.9 s at idle); its SVG alone is drawn here
    if early is not None:
        perspective, view_job = early.perspective, None
        notes.extend(early.notes)
    else:
        perspective, view_job = (_perspective(out_charts, scen, model, result.params, notes,
                                              CONTROLS.get(interface, CONTROLS["cli"]),
                                              beside=record_job is None and out_charts.png_dir is not None)
                                 if figures else (None, None))
    if view_job is not None and jobs is not None:
        jobs.append(view_job)

    step(0.5, "drawing the trajectories")
    # with the early child, the charts that need the forecast are planned here and drawn by either process
    planned = _Planned() if early is not None else out_charts
    _trajectory_charts(planned, scen, result, branch=mc is not None, power=early is None)
    if mc is not None:
        step(0.55, "drawing the Monte Carlo charts")
        _monte_carlo_charts(planned, scen, mc)
    if early is not None:
        early.send(cast(_Planned, planned))
    if view_job is not None:
        step(0.6, "how the actors see each other")
        drawn, pngs = view_job.result()
        out_charts.extend(drawn)
        out_charts.pngs.extend(Path(p) for p in pngs)
    # the section's score, here when the child has not taken it yet (it takes it after its explanation)
    score_here = (_record_part("score", scen, model, params, draws, seed, budget, mc)
                  if shared is not None and _has_record(scen) and shared.take("score") else None)
    sens = (_sensitivity(out_charts, scen, model, params, seed, budget, step)
            if sensitivity and (shared is None or shared.take("sensitivity")) else None)
    if early is not None:  # the charts drawn by either process, in their places: before the sensitivity's
        step(0.8, "drawing the charts")
        by_name = early.finish()
        steps = list(cast(_Planned, planned).steps)
        trajectories = [n for n in steps if n.startswith("trajectory-")]
        order = trajectories + ["power"] + [n for n in steps if n not in trajectories] + early.names[:-1]
        out_charts[0:0] = [c for n in order for c in by_name[n][0]]
        out_charts.pngs[0:0] = [Path(p) for n in order for p in by_name[n][1]]
    at, at_png = len(out_charts), len(out_charts.pngs)  # where the sensitivity's charts go when drawn beside
    comparison = _comparison(out_charts, scen, compare, model, params, seed, budget, step, draws) if compare else None
    record_section = shipped
    if record_job is not None:
        step(0.9, "scoring every model against the record")
        record_section = record_job.result()
        if shared is not None:
            got = record_section
            if "sensitivity" in got:
                sens, drawn, pngs = got["sensitivity"]
                out_charts[at:at] = drawn
                out_charts.pngs[at_png:at_png] = [Path(p) for p in pngs]
            record_section = (None if got["explain"] is None else
                              {"score": got["score"] if score_here is None else score_here, "explain": got["explain"]})
    step(0.95, "finishing")
    data = _report_data(scen, result, mc, rdict, out_charts, sens, comparison, perspective, notes, seed, draws,
                        record_section)
    data["kind"] = "detente-report" if figures else "detente-forecast"
    return data


def _forecasts(scen: Any, model: str, params: dict[str, Any], seed: int | None, draws: int, step: "_Steps",
               budget: Any) -> tuple[Any, Any]:
    """The forecast: one run (``draws`` 0), or Monte Carlo with its most likely branch as the run."""
    if draws and draws > 0:
        step(0.08, f"Monte Carlo: {draws} draws")
        mc = _run_monte_carlo(scen, model, dict(params), int(draws), seed, step, budget)
        return mc.point, mc
    step(0.08, "forecasting")
    return forecast(scen, model, seed=seed, budget=budget, **params), None


def _trajectory_charts(out_charts: "_Charts", scen: Any, result: Any, branch: bool = False, power: bool = True) -> None:
    """Positions by round per issue (of the most likely branch, labelled so, in a run with draws), and power
    (unless ``power`` is False: :func:`_power_chart` draws it elsewhere)."""
    for iss in scen.issues:
        out_charts.add("trajectories", f"trajectory-{iss.key}",
                       f"{iss.name}: positions by round" + (" (most likely branch)" if branch else ""),
                       _chart("trajectory", result, iss.key, branch=branch))
    if power:
        _power_chart(out_charts, scen)


def _power_chart(out_charts: "_Charts", scen: Any) -> None:
    out_charts.add("power", "power", "Effective power (capability x salience)", _chart("power", scen))


class _Planned(_Charts):
    """Charts recorded, not drawn: each ``add`` kept as a step (section, id, title, figure) to be drawn later, by
    either process of the report (:class:`_Early`); the charts are plain data (:class:`Chart`), so
    that the steps can be sent to the child."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: dict[str, tuple[str, str, str, Chart]] = {}

    def add(self, section: str, cid: str, title: str, chart: Chart) -> None:
        self.steps[cid] = (section, cid, title, chart)


class _Early:
    """The report's charts drawn by two processes: a child forked before the Monte Carlo and the report's own.

    The charts that need no forecast (the perspective map's figures, one per issue, and the power chart) are
    shared steps (:class:`_Shared`) from the start: the child draws them in that order. Once the forecast is
    made, the report's own process sends the child the charts that need it (the trajectories and the Monte Carlo
    charts, :meth:`send`): the child goes on with those, from the first, when it is done with its own; the report's
    own process, after its own work (the sensitivity analysis and its charts), takes those the child has not begun,
    from the last, then the early ones likewise (:meth:`finish`), so that the two end near together whatever each
    one's share of the machine. Where each is drawn changes nothing: the same figure from the same data. The map's
    data (the model's view, a few milliseconds) is computed here, before the fork, with the parameters the
    forecast runs with (:func:`detente.engine.model_params`, the forecast's ``params``)."""

    def __init__(self, scen: Any, model: str, params: dict[str, Any], png: Path | None, controls: dict[str, str]):
        import multiprocessing

        from ..engine import model_params

        if png is not None:
            png.mkdir(parents=True, exist_ok=True)
        self.scen, self.png = scen, png
        self.notes: list[str] = []
        self.perspective, self._maps = _perspective_maps(scen, model, model_params(model, params), self.notes, controls)
        self.names = [f"map:{k}" for k in self._maps] + ["power"]
        self.shared = _Shared(self.names)
        # the charts that need the forecast: every one a report can have, taken by name once sent
        self.later = _Shared([f"{kind}-{k}" for k in scen.issue_keys for kind in ("trajectory", "fan", "dist")])
        self._steps: dict[str, tuple[str, str, str, Chart]] = {}
        self._send: Any = None
        recv = None
        forks = _forks()
        if forks:
            recv, self._send = multiprocessing.get_context("fork").Pipe(duplex=False)
        self.job = _Beside(lambda: self._child(recv), thread=False, fork=forks)
        if recv is not None:
            recv.close()  # the child's end

    def draw(self, name: str) -> tuple[list[dict[str, Any]], list[str]]:
        drawn = _Charts(self.png)
        if name == "power":
            _power_chart(drawn, self.scen)
        elif name.startswith("map:"):
            self._maps[name[4:]](drawn)
        else:
            drawn.add(*self._steps[name])
        return list(drawn), [str(p) for p in drawn.pngs]

    def _child(self, recv: Any) -> dict[str, Any]:
        if self._send is not None:
            self._send.close()  # the parent's end, in the child
        out = {name: self.draw(name) for name in self.names if self.shared.take(name)}
        if recv is not None:
            self._steps = recv.recv()
            recv.close()
        out.update((name, self.draw(name)) for name in self._steps if self.later.take(name))
        return out

    def send(self, planned: _Planned) -> None:
        """The charts that need the forecast, as steps (:class:`Chart`)."""
        self._steps = dict(planned.steps)
        if self._send is not None:
            self._send.send(self._steps)
            self._send.close()
            self._send = None

    def finish(self) -> dict[str, tuple[list, list]]:
        """The steps the child has not begun, drawn here (the last first: the charts that need the forecast, then
        the early ones); then the child's; all as ``{name: (charts, pngs)}``."""
        if self._send is not None:  # nothing sent (a failure before): the child ends after its own
            self.send(_Planned())
        mine = {name: self.draw(name) for name in reversed(self._steps) if self.later.take(name)}
        mine.update((name, self.draw(name)) for name in reversed(self.names) if self.shared.take(name))
        return {**self.job.result(), **mine}


def _monte_carlo_charts(out_charts: "_Charts", scen: Any, mc: Any) -> dict[str, Any]:
    """The fan chart (the median as the forecast line, the most likely branch beside it) and the
    distribution of the final forecast, per issue."""
    data = monte_carlo_arrays(mc)
    history = mc.point.history if mc.point is not None else []
    for iss in scen.issues:
        q = data["quantiles"].get(iss.key)
        if q is not None:
            branch = [h["forecast"][iss.key] for h in history] if len(history) == len(data["rounds"]) else None
            out_charts.add("monte_carlo", f"fan-{iss.key}", f"{iss.name}: Monte Carlo spread",
                           _chart("fan", scen, iss.key, data["rounds"], q, point=branch, draws=data["draws"]))
        f = data["finals"].get(iss.key)
        if f is not None:
            out_charts.add("monte_carlo", f"dist-{iss.key}", f"{iss.name}: distribution of the final forecast",
                           _chart("distribution", scen, iss.key, f, point=mc.most_likely(iss.key),
                                  median=float(np.median(np.asarray(f, float)))))
    return data


def _perspective_maps(scen: Any, model: str, mparams: Any, notes: list[str], controls: dict[str, str]
                      ) -> tuple[dict[str, str] | None, dict[str, Callable[["_Charts"], None]]]:
    """The perspective map's title and description and a function per issue that draws its figure into the
    charts given (none, and a note naming the models that draw one, for a model without a map)."""
    model_module = registry.get(model)
    if not hasattr(model_module, "perspective"):
        with_view = [m for m in registry.names() if hasattr(registry.get(m), "perspective")]
        notes.append(f"Perspective map: {model} does not describe how each actor sees its rivals"
                     + (f"; {', '.join(with_view)} does ({controls['model'].format(name=with_view[0])})."
                        if with_view else "."))
        return None, {}
    view = model_module.perspective(scen.to_inputs(), mparams)

    def one(key: str, x: Any, y: Any) -> Callable[["_Charts"], None]:
        return lambda drawn: drawn.add("quadrants", f"quadrant-{key}", f"{scen.issue(key).name}: {view.title}",
                                       _chart("quadrant", scen, key, x, y, axis_labels=(view.x_label, view.y_label),
                                              quadrants=view.quadrants, title=view.title))

    return ({"title": view.title, "description": view.description},
            {key: one(key, x, y) for key, x, y in perspective_panels(view, scen)})


def _perspective(out_charts: "_Charts", scen: Any, model: str, mparams: Any, notes: list[str],
                 controls: dict[str, str], beside: bool = True) -> tuple[dict[str, str] | None, "_Beside | None"]:
    """The model's perspective map (its title and description, and its charts, one per issue, drawn beside the
    rest, or when asked for with ``beside`` False: :meth:`_Beside.result` gives ``(charts, png paths)``), or a
    note naming the models that draw one."""
    perspective, maps = _perspective_maps(scen, model, mparams, notes, controls)
    if perspective is None:
        return None, None

    def draw() -> tuple[list[dict[str, Any]], list[str]]:
        drawn = _Charts(out_charts.png_dir, out_charts.dpi, out_charts.drawn)
        for one in maps.values():
            one(drawn)
        return list(drawn), [str(p) for p in drawn.pngs]

    return perspective, _Beside(draw, thread=False, fork=beside)


def _sensitivity(out_charts: "_Charts", scen: Any, model: str, params: dict[str, Any], seed: int | None, budget: Any,
                 step: "_Steps") -> dict[str, Any] | None:
    """One-at-a-time sensitivity and its tornado chart per issue."""
    step(0.7, "sensitivity analysis")
    sens = _run_sensitivity(scen, model, dict(params), seed, budget)
    if not sens:
        return None
    for iss in scen.issues:
        rows = sens["rows"].get(iss.key)
        if rows:
            out_charts.add("sensitivity", f"tornado-{iss.key}", f"{iss.name}: sensitivity",
                           _chart("tornado", f"{iss.name}: what moves the forecast", sens["base"][iss.key], rows,
                                  xlabel=f"forecast of {iss.short_name()}"))
    return sens


def _comparison(out_charts: "_Charts", scen: Any, compare: list[Any], model: str, params: dict[str, Any],
                seed: int | None, budget: Any, step: "_Steps", draws: int = 0) -> dict[str, Any]:
    """The scenario and its variants forecast with the same model (with draws, by the same draws: the
    scenario's row is the headline), and the inputs that differ, by display name."""
    from ..analysis import compare as compare_scenarios

    step(0.85, "comparing variants")
    cmp = compare_scenarios([scen, *compare], [model], draws=int(draws or 0), seed=int(seed or 0),
                            params={model: params}, progress=False, budget=budget)
    tab = cmp.table
    rows: list[tuple[str, dict[str, float | None]]] = [
        (label, {r["issue"]: float(r["forecast"]) for r in tab[tab["scenario"] == label].to_dict("records")})
        for label in cmp.labels
    ]
    diffs = cmp.shown_differences()
    out_charts.add("comparison", "comparison", "Comparison of forecasts", _chart("comparison", scen, rows))
    return {"rows": [{"scenario": n, "forecast": fc} for n, fc in rows], "issues": scen.issue_keys, "differences": diffs,
            "notes": list(cmp.notes)}


def summary_rows(scen: Any, rdict: dict[str, Any], mc: Any = None) -> list[dict[str, Any]]:
    """One row per issue: the headline ``forecast`` and its ``label`` (from the forecast's JSON
    contract ``rdict``: with draws, the median), the ``stability`` diagnostics; with draws also
    ``p5``/``p50``/``p95``, the ``thresholds``' probabilities and the ``most_likely`` branch."""
    summary = []
    for iss in scen.issues:
        entry = rdict["issues"][iss.key]
        row: dict[str, Any] = {"issue": iss.key, "name": iss.name, "forecast": entry["forecast"],
                               "label": entry.get("label", ""), "scale": entry["scale"], "decimals": iss.decimals}
        tr = (entry.get("track_record_band") or {}).get("bands")
        row["track_record"] = tr["80"] if tr else None  # the 80% track-record band (detente.calibrate)
        if "stability" in entry:
            row["stability"] = entry["stability"]
        if mc is not None:
            x = mc.forecasts[:, scen.issue_keys.index(iss.key)]
            row["p5"], row["p50"], row["p95"] = (float(v) for v in np.nanpercentile(x, [5, 50, 95]))
            row["thresholds"] = [
                {"name": t.name, "value": t.value, "direction": t.direction,
                 "probability": threshold_probability(x, t.value, t.direction)}
                for t in iss.thresholds
            ]
            ml = entry.get("most_likely")
            if ml is not None:
                row["most_likely"] = ml["forecast"]
                row["most_likely_label"] = ml.get("label", "")
        summary.append(row)
    return summary


def _record(scen: Any, model: str, params: dict[str, Any], draws: int, seed: int | None, budget: Any,
            mc: Any = None) -> dict[str, Any] | None:
    """Every model scored against the scenario's record, and the report's model explaining it (None without a record)."""
    if scen.record is None or not scen.record.issues:
        return None
    from .record import record_data

    return record_data(scen, model, dict(params), draws=int(draws or 0), seed=int(seed or 0), budget=budget,
                       monte_carlo=mc)


def _shipped_record(scen: Any, model: str, params: dict[str, Any], draws: int, seed: int | None) -> dict[str, Any] | None:
    """The record's section as shipped for exactly this report (:mod:`detente.report._shipped`), marked so, or None."""
    if not _has_record(scen):
        return None
    from ._shipped import lookup

    got = lookup(scen, model, params, int(draws or 0), seed)
    return None if got is None else {**got, "shipped": True}


def _has_record(scen: Any) -> bool:
    return scen.record is not None and bool(scen.record.issues)


def _record_part(part: str, scen: Any, model: str, params: dict[str, Any], draws: int, seed: int | None, budget: Any,
                 mc: Any = None) -> dict[str, Any] | None:
    """One part of :func:`_record`'s section, ``score`` or ``explain`` (None without a record)."""
    if not _has_record(scen):
        return None
    from .record import record_explain, record_score

    if part == "score":
        return record_score(scen, model, dict(params), draws=int(draws or 0), seed=int(seed or 0), budget=budget,
                            monte_carlo=mc)
    return record_explain(scen, model, dict(params), seed=int(seed or 0), budget=budget)


def _report_data(scen: Any, result: Any, mc: Any, rdict: dict[str, Any], out_charts: "_Charts", sens: Any,
                 comparison: Any, perspective: Any, notes: list[str], seed: int | None, draws: int,
                 record_section: dict[str, Any] | None = None) -> dict[str, Any]:
    import datetime as _dt

    return {
        "kind": "detente-report",
        "scenario": {"name": scen.name, "description": scen.description,
                     "date": scen.date.isoformat() if scen.date else None, "rounds": scen.rounds,
                     "calendar": scen.calendar.model_dump(mode="json") if scen.calendar else None},
        "inputs": scenario_tables(scen),
        "result": rdict,
        "summary": summary_rows(scen, rdict, mc),
        "bands_note": band_note([rdict["issues"][k].get("track_record_band") or {} for k in scen.issue_keys]),
        "charts": list(out_charts),
        "pngs": [str(p) for p in out_charts.pngs],
        "monte_carlo": None if mc is None else {
            "draws": mc.draws,  # every draw's final forecast, for the run's CSV (its median is the headline)
            "finals": {k: [float(v) for v in mc.forecasts[:, d]] for d, k in enumerate(scen.issue_keys)}},
        "sensitivity": None if not sens else {"base": sens["base"], "top_drivers": sens.get("top_drivers", [])},
        "comparison": comparison,
        "record": record_section,
        "moves": _moves(rdict, scen),
        "perspective": perspective,
        "notes": notes,
        "meta": meta(seed, model=result.model, params=result.params.model_dump(mode="json"), draws=int(draws or 0),
                     input_sha256=input_sha256(scen), created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")),
    }


def write_pngs(scenario: Any, directory: str | Path, model: str | None = None, params: dict | None = None,
               **kw: Any) -> list[Path]:
    """Write every chart of a report as a PNG file into ``directory``.

    Parameters
    ----------
    scenario, model, params, **kw
        As for :func:`compute`.
    directory : path

    Returns
    -------
    list of Path
        The files written, named after the charts' ids (``trajectory-deal.png``, ...).
    """
    data = compute(scenario, model, params, png_dir=directory, **kw)
    return [Path(p) for p in data["pngs"]]
