"""Run models on every scored issue of a dataset, batched through the model protocol.

Batching: an issue is one draw of a batch (``D = 1``), except for models that
couple issues (``COUPLES_ISSUES = True``, e.g. ``exchange``), which see each
proposal as one scenario with one dimension per scored issue. Issues that share a scale
and a status quo (``Inputs.low``, ``high`` and ``status_quo`` are per batch,
not per draw) form one batch; the actor axis is padded to the batch's largest
issue and padded actors are ``active=False`` (every model must ignore them).
With ``draws = N > 0`` every issue is run N times with its own seeds and the
forecast is the mean of the N final forecasts (for stochastic models; a
deterministic model just gives N equal numbers). Seeds depend only on
``(seed, issue number, draw)``, never on how issues were batched.

A model that raises :class:`~detente.models.base.ModelInputError` on a batch
(``nash`` without a status quo) is not run on those issues; they are reported
per model (``not_run``) and the model's ``n`` is smaller.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from pydantic import ValidationError

from .. import _cancel
from .. import models as registry
from ..budget import OPS_PER_SECOND, Budget, check_total, plan, resolve_budget
from ..errors import DetenteError, Problem
from ..executor import Executor, run_all
from ..executor import current as current_executor
from ..executor import resolve as resolve_executor
from ..models.base import Inputs, ModelInputError
from .calibration import FOLDS, issue_difficulties, model_bands, waves
from .capability import capabilities
from .data import Dataset, load_dataset, proposal_key
from .result import REFERENCE, BacktestResult

#: Largest batch (draws) given to a model at once.
CHUNK = 1024


@dataclass(frozen=True)
class ModelSpec:
    """One model to score: a registry name, its parameters, and an optional capability.

    ``label`` is how it is reported (the spec as written, e.g.
    ``median(weights=equal,convention=midpoint)``).
    """

    label: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    capability: str | None = None


_SPEC = re.compile(r"^\s*([A-Za-z_][\w\-]*)\s*(?:\((.*)\))?\s*$")


def _value(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t.strip("'\"")


def parse_spec(text: str) -> ModelSpec:
    """``NAME`` or ``NAME(key=value, ...)``; the key ``capability`` overrides the capability.

    Raises
    ------
    DetenteError
        On a malformed spec.
    """
    m = _SPEC.match(text)
    if not m:
        raise DetenteError([Problem(None, None, "models", f"cannot read model spec {text!r}; use NAME or NAME(key=value,...)")])
    name, body = m.group(1), m.group(2)
    params: dict[str, Any] = {}
    cap = None
    if body and body.strip():
        for part in body.split(","):
            if "=" not in part:
                raise DetenteError([Problem(None, None, "models", f"{text!r}: expected key=value, got {part.strip()!r}")])
            k, v = part.split("=", 1)
            k = k.strip()
            if k == "capability":
                cap = v.strip()
            else:
                params[k] = _value(v)
    return ModelSpec(label=text.strip().replace(" ", ""), name=name, params=params, capability=cap)


def split_specs(text: str) -> list[str]:
    """Split ``a,b(x=1,y=2),c`` on the commas outside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [s.strip() for s in out if s.strip()]


# The literature's reference configurations (DEU README), scored by default beside every model.
LITERATURE_REFERENCES = (
    "compromise(capability=equal)",  # salience-weighted mean
    "median(weights=equal,convention=midpoint)",  # median of positions
)


def _variants(name: str) -> list[str]:
    """A model's named variants a backtest scores beside its default (its ``BACKTEST_VARIANTS``), as specs."""
    out: list[str] = []
    for params in getattr(registry.get(name), "BACKTEST_VARIANTS", ()):
        out.append(f"{name}(" + ",".join(f"{k}={v}" for k, v in params.items()) + ")")
    return out


def _specs(models: str | Iterable[str | ModelSpec] | None) -> list[ModelSpec]:
    if models is None:
        items: list[str | ModelSpec] = [s for name in registry.names() for s in [name, *_variants(name)]]
        items += list(LITERATURE_REFERENCES)
    elif isinstance(models, str):
        items = list(split_specs(models))
    else:
        items = list(models)
    specs = [m if isinstance(m, ModelSpec) else parse_spec(m) for m in items]
    if not any(s.label == REFERENCE for s in specs):
        specs.insert(0, ModelSpec(REFERENCE, REFERENCE))
    seen: set[str] = set()
    out = []
    for s in specs:
        if s.label not in seen:
            seen.add(s.label)
            out.append(s)
    return out


#: The most model configurations one parameter grid may expand to.
MAX_GRID = 1000


def parse_grid(items: Iterable[str]) -> dict[str, list[Any]]:
    """``["focal.pi=0.2,0.4", "capability=votes,equal"]`` as ``{"focal.pi": [0.2, 0.4], "capability": [...]}``.

    Raises
    ------
    DetenteError
        On an entry without ``=``, without values, or given twice.
    """
    out: dict[str, list[Any]] = {}
    for item in items:
        key, eq, values = item.partition("=")
        key = key.strip()
        vals = [_value(v) for v in values.split(",") if v.strip()]
        if not eq or not key or not vals:
            raise DetenteError([Problem(None, None, "grid", f"cannot read {item!r}; use MODEL.PARAM=v1,v2,... or "
                                                            "capability=c1,c2,...")])
        if key in out:
            raise DetenteError([Problem(None, None, "grid", f"{key!r} is given twice; list all its values once")])
        out[key] = vals
    return out


def grid_specs(grid: Mapping[str, Iterable[Any]], models: str | Iterable[str | ModelSpec] | None = None) -> list[ModelSpec]:
    """The model configurations of a parameter grid.

    ``grid`` maps ``MODEL.PARAM`` to the values to try and, optionally, ``capability`` to the
    capability conventions to try. Each model named in the grid is run with every combination of
    its parameters' values (the other parameters at their defaults), each with every capability.
    A grid of capabilities alone crosses them with ``models`` (default: every model and its
    variants, as a backtest without a grid). Labels are specs (``focal(pi=0.2,capability=equal)``).

    Raises
    ------
    DetenteError
        On a key that is neither ``MODEL.PARAM`` nor ``capability``, on no values, or on more
        than :data:`MAX_GRID` configurations.
    """
    caps: list[Any] | None = None
    per_model: dict[str, dict[str, list[Any]]] = {}
    for key, values in grid.items():
        vals = list(values)
        if not vals:
            raise DetenteError([Problem(None, None, "grid", f"{key!r} has no values")])
        if key == "capability":
            caps = [str(v) for v in vals]
            continue
        name, dot, param = key.partition(".")
        if not dot or not name or not param:
            raise DetenteError([Problem(None, None, "grid", f"cannot read {key!r}; a grid key is MODEL.PARAM or capability")])
        per_model.setdefault(name, {})[param] = vals
    if per_model:
        bases = [ModelSpec(name, name) for name in per_model]
    else:
        bases = _specs(models)
    size = sum(math.prod(len(v) for v in per_model.get(b.name, {}).values()) if per_model else 1 for b in bases)
    size *= len(caps) if caps else 1
    if size > MAX_GRID:
        raise DetenteError([Problem(None, None, "grid", f"the grid has {size:,} model configurations; at most {MAX_GRID:,} "
                                                        "run at once (split it into several backtests)")])
    out: list[ModelSpec] = []
    for b in bases:
        axes = per_model.get(b.name, {}) if per_model else {}
        for combo in itertools.product(*axes.values()):
            params = {**b.params, **dict(zip(axes, combo))}
            for cap in caps or [b.capability]:
                body = [f"{k}={v}" for k, v in params.items()] + ([f"capability={cap}"] if cap is not None else [])
                label = f"{b.name}({','.join(body)})" if body else b.name
                out.append(ModelSpec(label, b.name, params, cap))
    return out


def issue_seed(seed: int, issue: int, draw: int) -> np.uint64:
    """The seed of one draw of one issue (independent of batching)."""
    return np.uint64(np.random.SeedSequence([int(seed), int(issue), int(draw)]).generate_state(1, np.uint64)[0])


def _groups(ds: Dataset) -> dict[tuple, list[int]]:
    """Issue indices grouped by (low, high, status quo)."""
    groups: dict[tuple, list[int]] = {}
    for j, iss in enumerate(ds.issues):
        sq = None if math.isnan(iss.status_quo) else float(iss.status_quo)
        groups.setdefault((float(iss.low), float(iss.high), sq), []).append(j)
    return groups


def build_inputs(ds: Dataset, idx: Sequence[int], caps: list[np.ndarray], reps: int, seeds: np.ndarray,
                 pad: int = 0) -> Inputs:
    """One batch: issue ``idx[b // reps]`` in draw ``b``, actors padded as inactive to the largest
    issue's (at least ``pad``: a backtest pads to its group's largest, so that no forecast depends,
    even in its last bit, on which issues share its batch)."""
    n = max(pad, *(ds.issues[j].n for j in idx))
    B = len(idx) * reps
    pos = np.zeros((B, n, 1))
    sal = np.zeros((B, n, 1))
    cap = np.ones((B, n))
    act = np.zeros((B, n), dtype=bool)
    for r, j in enumerate(idx):
        iss = ds.issues[j]
        rows = slice(r * reps, (r + 1) * reps)
        pos[rows, : iss.n, 0] = iss.position
        pos[rows, iss.n :, 0] = iss.low  # padding, ignored (inactive)
        sal[rows, : iss.n, 0] = iss.salience
        cap[rows, : iss.n] = caps[j]
        act[rows, : iss.n] = True
    first = ds.issues[idx[0]]
    return Inputs(
        position=pos,
        salience=sal,
        capability=cap,
        active=act,
        low=np.array([first.low]),
        high=np.array([first.high]),
        status_quo=np.array([first.status_quo]),
        seed=seeds,
    )


def _proposals(ds: Dataset) -> list[list[int]]:
    """Issue indices grouped by proposal, in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for j, iss in enumerate(ds.issues):
        groups.setdefault(proposal_key(iss), []).append(j)
    return list(groups.values())


def build_proposal_inputs(ds: Dataset, idx: Sequence[int], caps: list[np.ndarray], reps: int, seeds: np.ndarray) -> Inputs:
    """One proposal as one multi-issue scenario: issue ``idx[k]`` is dimension ``k``, ``reps`` identical draws.

    The actors are the union of the issues' actors. An actor without a position
    and a salience on an issue gets salience 0 there (no weight, and it takes
    no part in that issue). Each actor has one capability: that of the first
    of its issues (the same on every issue of a proposal except for the
    voting-power indices, which depend on the issue's member states).
    """
    codes: list[str] = []
    for j in idx:
        codes.extend(a for a in ds.issues[j].actors if a not in codes)
    n, D = len(codes), len(idx)
    where = {a: r for r, a in enumerate(codes)}
    pos = np.empty((n, D))
    sal = np.zeros((n, D))
    cap = np.full(n, np.nan)
    for k, j in enumerate(idx):
        iss = ds.issues[j]
        pos[:, k] = iss.low
        rows = [where[a] for a in iss.actors]
        pos[rows, k] = iss.position
        sal[rows, k] = iss.salience
        fresh = np.isnan(cap[rows])
        cap[np.asarray(rows)[fresh]] = caps[j][fresh]
    issues = [ds.issues[j] for j in idx]
    return Inputs(
        position=np.repeat(pos[None], reps, axis=0),
        salience=np.repeat(sal[None], reps, axis=0),
        capability=np.repeat(cap[None], reps, axis=0),
        active=np.ones((reps, n), dtype=bool),
        low=np.array([i.low for i in issues]),
        high=np.array([i.high for i in issues]),
        status_quo=np.array([i.status_quo for i in issues]),
        seed=seeds,
    )


@dataclass(frozen=True)
class BacktestJob:
    """What every task of one backtest shares (sent once): the dataset, the models, the capabilities, the seeds.

    ``specs[i]`` is run as ``modules[i]`` (a registry name) with ``params[i]`` and the
    capabilities ``caps[kinds[i]]``; ``seeds[j, k]`` seeds draw ``k`` of issue ``j``.
    """

    ds: Dataset
    names: tuple[str, ...]
    params: tuple[Any, ...]
    kinds: tuple[str, ...]
    caps: dict[str, list[np.ndarray]]
    seeds: np.ndarray
    reps: int
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class BacktestTask:
    """Model ``spec`` on some units of the dataset, in order: chunks of issues that share a scale and
    status quo (each issue one draw of a batch), or, for a model that couples issues, proposals."""

    spec: int
    units: tuple[tuple[int, ...], ...]
    pad: int = 0  # the actor axis's width (issues: the group's largest issue)


@dataclass(frozen=True)
class TaskResult:
    """One task's outcome: per unit, its forecasts (one per issue) or why the model could not take
    it; or the first unexpected error (``failed``), after which the task ran nothing more."""

    forecasts: tuple[np.ndarray | None, ...]
    reasons: tuple[str | None, ...]
    failed: str | None = None


def _coupled(module: Any) -> bool:
    return bool(getattr(module, "COUPLES_ISSUES", False))


def backtest_tasks(job: BacktestJob) -> list[BacktestTask]:
    """Every model's work cut into tasks of about its chunk of draws (``job.sizes``), models in order:
    issues in chunks of ``size // reps`` within each group of issues that share a scale and status
    quo (one chunk per task); proposals (models that couple issues) as many per task as fill it."""
    tasks: list[BacktestTask] = []
    groups = list(_groups(job.ds).values())
    props = _proposals(job.ds)
    for i, name in enumerate(job.names):
        size, reps = job.sizes[i], job.reps
        if _coupled(registry.get(name)):
            per = max(1, size // reps)
            tasks += [BacktestTask(i, tuple(tuple(u) for u in props[c : c + per])) for c in range(0, len(props), per)]
        else:
            per = max(1, max(1, min(CHUNK, size)) // reps)
            tasks += [BacktestTask(i, (tuple(idx[c : c + per]),), max(job.ds.issues[j].n for j in idx))
                      for idx in groups for c in range(0, len(idx), per)]
    return tasks


def run_backtest_task(task: BacktestTask, job: BacktestJob) -> TaskResult:
    """One task: its model on each of its units, the forecast of an issue the mean of its draws."""
    module = registry.get(job.names[task.spec])
    params, caps, reps, size = job.params[task.spec], job.caps[job.kinds[task.spec]], job.reps, job.sizes[task.spec]
    ds, seeds = job.ds, job.seeds
    fcs: list[np.ndarray | None] = []
    reasons: list[str | None] = []
    for unit in task.units:
        idx = list(unit)
        try:
            try:
                if _coupled(module):
                    fc = _forecast_proposal(ds, module, params, caps, reps, seeds, idx, max(1, size))
                else:
                    fc = _forecast_chunk(ds, module, params, caps, reps, seeds, idx, max(1, min(CHUNK, size)), task.pad)
            except ModelInputError as exc:
                fcs.append(None)
                reasons.append(str(exc))
                continue
        except _cancel.Cancelled:
            raise
        except Exception as exc:  # a model bug must not hide every other model's score
            return TaskResult(tuple(fcs), tuple(reasons), f"{type(exc).__name__}: {exc}")
        fcs.append(fc)
        reasons.append(None)
    return TaskResult(tuple(fcs), tuple(reasons))


def _forecast_chunk(ds: Dataset, module: Any, params: Any, caps: list[np.ndarray], reps: int, seeds_all: np.ndarray,
                    chunk: list[int], size: int, pad: int = 0) -> np.ndarray:
    """Issues ``chunk`` (each issue one draw of a batch, ``D = 1``, actors padded to ``pad``), at most
    ``size`` draws per model call."""
    if reps <= size:
        inp = build_inputs(ds, chunk, caps, reps, seeds_all[chunk].reshape(-1), pad)
        final = module.run(inp, params).final[:, 0]
    else:  # one issue, its draws in pieces
        final = np.empty(reps)
        for r0 in range(0, reps, size):
            r1 = min(reps, r0 + size)
            inp = build_inputs(ds, chunk, caps, r1 - r0, seeds_all[chunk[0], r0:r1], pad)
            final[r0:r1] = module.run(inp, params).final[:, 0]
    return final.reshape(len(chunk), reps).mean(axis=1)


def _forecast_proposal(ds: Dataset, module: Any, params: Any, caps: list[np.ndarray], reps: int, seeds_all: np.ndarray,
                       idx: list[int], size: int) -> np.ndarray:
    """One proposal (a model that couples issues, ``COUPLES_ISSUES``), at most ``size`` draws per call."""
    parts = []
    for r0 in range(0, reps, size):
        r1 = min(reps, r0 + size)
        inp = build_proposal_inputs(ds, idx, caps, r1 - r0, seeds_all[idx[0], r0:r1])
        parts.append(module.run(inp, params).final)
    final = parts[0] if len(parts) == 1 else np.concatenate(parts)  # (reps, D)
    return final.mean(axis=0)


def merge_backtest(job: BacktestJob, labels: list[str], tasks: list[BacktestTask], results: list[TaskResult]
                   ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]], dict[str, str]]:
    """The tasks' outcomes in task order as ``run_models`` returns them (forecasts, not_run, failures)."""
    n = len(job.ds.issues)
    fc = {i: np.full(n, np.nan) for i in range(len(labels))}
    skipped: dict[int, dict[str, int]] = {i: {} for i in range(len(labels))}
    failed: dict[int, str] = {}
    for t, r in zip(tasks, results):
        if t.spec in failed or r is None:  # None: not run, a later task of a model that failed
            continue
        for unit, f, why in zip(t.units, r.forecasts, r.reasons):
            if why is not None:
                skipped[t.spec][why] = skipped[t.spec].get(why, 0) + len(unit)
            else:
                fc[t.spec][list(unit)] = f
        if r.failed is not None:
            failed[t.spec] = r.failed
    forecasts: dict[str, np.ndarray] = {}
    not_run: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    for i, label in enumerate(labels):
        if i in failed:
            failures[label] = failed[i]
            continue
        forecasts[label] = fc[i]
        if skipped[i]:
            not_run[label] = {"n": int(sum(skipped[i].values())), "reason": "; ".join(skipped[i])}
    return forecasts, not_run, failures


def _plan_backtest(ds: Dataset, specs: list[ModelSpec], reps: int, budget: Budget | None,
                   ex: Executor | None = None) -> dict[str, int]:
    """Check every model's runs against the budget before any runs; the draws per call of each model
    (on a cluster, per task: :meth:`detente.executor.Executor.task_size`).

    A model that couples issues runs each proposal as one scenario (its actors
    the union of the issues', its issues the proposal's); any other runs each
    issue alone. Drawing the per-draw seeds costs about 2,000 operations each.
    """
    b = resolve_budget(budget)
    unbounded = Budget(seconds=float("inf"), memory=b.memory, draws=b.draws, rounds=b.rounds)
    n_issue = max((iss.n for iss in ds.issues), default=1)
    props = _proposals(ds)
    n_prop = max((len({a for j in idx for a in ds.issues[j].actors}) for idx in props), default=1)
    d_prop = max((len(idx) for idx in props), default=1)
    runs = len(ds.issues) * reps
    total = runs * 2000 / OPS_PER_SECOND
    sizes: dict[str, int] = {}
    for spec in specs:
        try:
            module = registry.get(spec.name)
            params = module.Params(**spec.params)
        except (KeyError, ImportError, ValidationError):
            continue  # reported with the model's own message when it runs
        coupled = bool(getattr(module, "COUPLES_ISSUES", False))
        n, D = (n_prop, d_prop) if coupled else (n_issue, 1)
        T = int(params.rounds) if "rounds" in module.Params.model_fields else 0
        est = plan(f"backtest ({spec.label})", spec.name, n, D, params, T, len(props) * reps if coupled else runs,
                   budget=unbounded, held=len(ds.issues) * reps * 8, chunk=reps if coupled else CHUNK)
        n_runs = len(props) * reps if coupled else runs
        sizes[spec.label] = (ex or Executor()).task_size(n_runs, est.seconds / max(n_runs, 1), est.chunk)
        total += est.seconds
    check_total(f"a backtest of {len(specs)} models on {len(ds.issues)} issues x {reps:,} draws", total, b,
                "fewer draws or models")
    return sizes


def run_models(
    ds: Dataset,
    specs: list[ModelSpec],
    capability: str,
    *,
    draws: int = 0,
    seed: int = 0,
    budget: Budget | None = None,
    executor: Executor | None = None,
    progress: bool | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]], dict[str, str], list[str]]:
    """Forecast every issue with every model, as tasks (:func:`backtest_tasks`) run by ``executor``
    (default :func:`detente.executor.current`: in process unless set); the result does not depend on
    where or in how many tasks they run. A progress bar follows the tasks once the run looks slow
    (``progress``: True at once, False never, as for Monte Carlo); Ctrl-C says how far it got.

    Returns
    -------
    forecasts : dict label -> ndarray (n_issues,)
        NaN where a model did not run on an issue.
    not_run : dict label -> {"n": int, "reason": str}
        Issues a model could not take (e.g. no status quo for ``nash``).
    failures : dict label -> str
        Models that raised an unexpected error (reported, not fatal).
    notes : list of str
        Capability notes (actors given fallback values).
    """
    reps = max(int(draws), 1)
    ex = executor if executor is not None else current_executor()
    sizes = _plan_backtest(ds, specs, reps, budget, ex)
    job, notes = backtest_job(ds, specs, capability, reps, seed, sizes)
    tasks = backtest_tasks(job)
    weights = [reps * sum(len(u) for u in t.units) for t in tasks]
    def drop(i: int, result: TaskResult) -> list[int]:
        # a model that failed is not run further: its later tasks are dropped (it is reported by its first failing
        # task in task order, merge_backtest, so the report is the same whichever task fails first)
        if result.failed is None:
            return []
        return [j for j in range(i + 1, len(tasks)) if tasks[j].spec == tasks[i].spec]

    results = run_all(run_backtest_task, tasks, shared=job, executor=ex, weights=weights, progress=progress,
                      what=f"Backtest of {len(specs)} model{'s' if len(specs) != 1 else ''}", name="detente-backtest",
                      subject="backtest", drop=drop)
    forecasts, not_run, failures = merge_backtest(job, [s.label for s in specs], tasks, results)
    return forecasts, not_run, failures, notes


def backtest_job(ds: Dataset, specs: list[ModelSpec], capability: str, reps: int, seed: int,
                 sizes: dict[str, int]) -> tuple[BacktestJob, list[str]]:
    """Check every model spec and compute what its tasks share; the capability notes.

    Raises
    ------
    DetenteError
        On an unknown model, a bad parameter or capability (the first in spec order).
    """
    cap_cache: dict[str, tuple[list[np.ndarray], list[str]]] = {}
    notes: list[str] = []
    names, params_, kinds = [], [], []
    for spec in specs:
        try:
            module = registry.get(spec.name)
        except (KeyError, ImportError) as exc:
            raise DetenteError([Problem(None, None, "models", f"{spec.label}: {exc}")]) from None
        try:
            params = module.Params(**spec.params)
        except ValidationError as exc:
            msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise DetenteError([Problem(None, None, "models", f"{spec.label}: {msgs}")]) from None
        kind = spec.capability or capability
        if kind not in cap_cache:
            try:
                cap_cache[kind] = capabilities(ds, kind)
            except ValueError as exc:
                raise DetenteError([Problem(None, None, "capability", str(exc))]) from None
            notes.extend(cap_cache[kind][1])
        names.append(spec.name)
        params_.append(params)
        kinds.append(kind)
    seeds_all = np.array(
        [[issue_seed(seed, j, k) for k in range(reps)] for j in range(len(ds.issues))], dtype=np.uint64
    ).reshape(len(ds.issues), reps)
    job = BacktestJob(ds, tuple(names), tuple(params_), tuple(kinds), {k: v[0] for k, v in cap_cache.items()},
                      seeds_all, reps, tuple(sizes[s.label] for s in specs))
    return job, notes


@dataclass(frozen=True)
class BandsJob:
    """What learning every model's track-record bands shares: the dataset, its issues' difficulty scores,
    the seed, and the training issues (None: grouped cross-conformal prediction over every issue)."""

    ds: Dataset
    diffs: dict[str, np.ndarray]
    seed: int
    train: np.ndarray | None


def bands_task(forecast: np.ndarray, job: BandsJob) -> dict[str, Any]:
    """One model's bands, CRPS and PIT (:func:`detente.backtest.calibration.model_bands`); with a held-out
    wave, those of the scored (held-out) issues."""
    if job.train is None:
        return model_bands(job.ds, forecast, job.diffs, folds=FOLDS, seed=job.seed)
    p = model_bands(job.ds, forecast, job.diffs, train=job.train, seed=job.seed)
    return {key: (v[~job.train] if isinstance(v, np.ndarray) else v) for key, v in p.items()}


def run_backtest(
    dataset: str | Dataset = "deu",
    models: str | Iterable[str | ModelSpec] | None = None,
    capability: str | None = None,
    data: str | None = None,
    draws: int = 0,
    seed: int = 0,
    n_boot: int = 2000,
    budget: Budget | None = None,
    holdout_wave: str | None = None,
    grid: Mapping[str, Iterable[Any]] | None = None,
    scheduler: Any = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> BacktestResult:
    """Score models against the actual outcomes of a dataset.

    Parameters
    ----------
    dataset : str or Dataset
        ``"deu"`` (the shipped copy, or ``data``), ``"outcomes"`` (with
        ``data``), a folder, or an already loaded :class:`Dataset`.
    models : str or list, optional
        Model specs (``NAME`` or ``NAME(key=value,...)``, comma-separated in a
        string). Default: every registered model. The reference model
        ``compromise`` is always added.
    capability : str, optional
        ``equal``, ``votes``, ``population``, ``gdp``, ``shapley``, ``banzhaf``
        (DEU; default ``votes``) or ``scenario`` (the outcomes format's own
        capabilities; its default).
    data : str, optional
        Another copy of the dataset.
    draws : int
        Draws per issue for stochastic models (0: one run).
    seed : int
        Seeds the models' draws and the bootstrap.
    n_boot : int
        Bootstrap resamples for the intervals.
    budget : Budget, optional
        The limits; a backtest over them is refused before any model runs.
    holdout_wave : str, optional
        Learn every learned part (the track-record bands) from the other waves
        only, and score only this wave. Default: every issue is scored, its
        bands learned by grouped cross-conformal prediction (folds of proposals).
    grid : dict, optional
        A parameter grid (:func:`grid_specs`): ``{"MODEL.PARAM": [values], "capability": [conventions]}``;
        every configuration is scored as one model, beside the models given with ``models`` (with a
        grid of capabilities alone, those models are what is crossed with them).
    scheduler : str, Executor or distributed.Client, optional
        Run the models' tasks (chunks of decisions, per model and grid point) on a Dask cluster:
        a scheduler's address (``"tcp://HOST:8786"``), an executor or a client (docs/scale.md).
        The result is the same bit for bit.
    workers : int, optional
        Run them on a new local Dask cluster of this many worker processes.
    progress : bool, optional
        Force the progress bar of the models' runs on or off; default: shown once the run looks like it
        will take more than a second.

    Returns
    -------
    BacktestResult
    """
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset, data)
    if draws < 0:
        raise DetenteError([Problem(None, None, "draws", "must be >= 0")])
    cap = capability or ("votes" if ds.council_weights else "scenario")
    train = None
    if holdout_wave is not None:
        names = waves(ds)
        if holdout_wave not in names:
            shown = ", ".join(repr(w) for w in names) or "none"
            raise DetenteError([Problem(None, None, "holdout-wave",
                                        f"unknown wave {holdout_wave!r}; the dataset's waves are {shown}")])
        train = np.array([str(i.meta.get("wave", "")) != holdout_wave for i in ds.issues])
        if not train.any():
            raise DetenteError([Problem(None, None, "holdout-wave",
                                        f"{holdout_wave!r} is the dataset's only wave: nothing is left to learn from")])
    if grid:
        gridded = grid_specs(grid, models)
        named = {k.partition(".")[0] for k in grid if k != "capability"}
        specs = _specs([*(_specs(models) if models is not None and named else []), *gridded])
    else:
        specs = _specs(models)
    with resolve_executor(scheduler, workers) as ex:
        forecasts, not_run, failures, notes = run_models(ds, specs, cap, draws=draws, seed=seed, budget=budget, executor=ex,
                                                          progress=progress)
        try:
            caps = capabilities(ds, cap)[0]
        except ValueError as exc:
            raise DetenteError([Problem(None, None, "capability", str(exc))]) from None
        # every model's track-record bands: one task each (learning them is most of a cheap model's backtest)
        bands_job = BandsJob(ds, issue_difficulties(ds, caps), seed, train)
        prob = dict(zip(forecasts, ex.map(bands_task, list(forecasts.values()), shared=bands_job, name="detente-bands")))
    if train is None:
        how = (f"bands learned by {FOLDS}-fold grouped cross-conformal prediction: each proposal's issues get bands "
               "learned from the other folds' proposals")
        scored = ds
    else:
        others = ", ".join(w for w in waves(ds) if w != holdout_wave)
        how = (f"held-out wave {holdout_wave}: bands learned from wave(s) {others} only "
               f"({int(train.sum())} issues); only {holdout_wave} is scored")
        notes = [*notes, "every model runs with its fixed parameters (the backtest refits none); defaults that were "
                 "tuned on a DEU wave are listed in docs/backtest.md, and their scores on that wave are in-sample"]
        keep = np.flatnonzero(~train)
        forecasts = {k: v[keep] for k, v in forecasts.items()}
        skipped = [x for x in ds.skipped if x.get("wave", "") == holdout_wave]
        scored = replace(ds, issues=[ds.issues[j] for j in keep], skipped=skipped,
                         n_total=len(keep) + len(skipped))
    return BacktestResult.build(
        scored,
        forecasts,
        capability=cap,
        specs={s.label: s for s in specs},
        not_run=not_run,
        failures=failures,
        notes=notes,
        seed=seed,
        draws=draws,
        n_boot=n_boot,
        prob=prob,
        bands_how=how,
    )
