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

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence

import numpy as np
from pydantic import ValidationError

from .. import models as registry
from ..budget import OPS_PER_SECOND, Budget, check_total, plan, resolve_budget
from ..errors import DetenteError, Problem
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


def build_inputs(ds: Dataset, idx: Sequence[int], caps: list[np.ndarray], reps: int, seeds: np.ndarray) -> Inputs:
    """One batch: issue ``idx[b // reps]`` in draw ``b``, actors padded as inactive."""
    n = max(ds.issues[j].n for j in idx)
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


def _forecast_issues(ds: Dataset, module: Any, params: Any, caps: list[np.ndarray], reps: int,
                     seeds_all: np.ndarray, fc: np.ndarray, skipped_reason: dict[str, int], size: int = CHUNK) -> None:
    """Fill ``fc`` issue by issue (each issue one draw of a batch, ``D = 1``), at most ``size`` draws per model call."""
    size = max(1, min(CHUNK, size))
    for idx in _groups(ds).values():
        per_chunk = max(1, size // reps)
        for c0 in range(0, len(idx), per_chunk):
            chunk = idx[c0 : c0 + per_chunk]
            try:
                if reps <= size:
                    inp = build_inputs(ds, chunk, caps, reps, seeds_all[chunk].reshape(-1))
                    final = module.run(inp, params).final[:, 0]
                else:  # one issue, its draws in pieces
                    final = np.empty(reps)
                    for r0 in range(0, reps, size):
                        r1 = min(reps, r0 + size)
                        inp = build_inputs(ds, chunk, caps, r1 - r0, seeds_all[chunk[0], r0:r1])
                        final[r0:r1] = module.run(inp, params).final[:, 0]
            except ModelInputError as exc:
                skipped_reason[str(exc)] = skipped_reason.get(str(exc), 0) + len(chunk)
                continue
            fc[chunk] = final.reshape(len(chunk), reps).mean(axis=1)


def _forecast_proposals(ds: Dataset, module: Any, params: Any, caps: list[np.ndarray], reps: int,
                        seeds_all: np.ndarray, fc: np.ndarray, skipped_reason: dict[str, int], size: int = CHUNK) -> None:
    """Fill ``fc`` proposal by proposal, for models that couple issues (``COUPLES_ISSUES``), at most ``size`` draws per call."""
    size = max(1, size)
    for idx in _proposals(ds):
        try:
            parts = []
            for r0 in range(0, reps, size):
                r1 = min(reps, r0 + size)
                inp = build_proposal_inputs(ds, idx, caps, r1 - r0, seeds_all[idx[0], r0:r1])
                parts.append(module.run(inp, params).final)
            final = parts[0] if len(parts) == 1 else np.concatenate(parts)  # (reps, D)
        except ModelInputError as exc:
            skipped_reason[str(exc)] = skipped_reason.get(str(exc), 0) + len(idx)
            continue
        fc[idx] = final.mean(axis=0)


def _plan_backtest(ds: Dataset, specs: list[ModelSpec], reps: int, budget: Budget | None) -> dict[str, int]:
    """Check every model's runs against the budget before any runs; the draws per call of each model.

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
        sizes[spec.label] = est.chunk
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
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]], dict[str, str], list[str]]:
    """Forecast every issue with every model.

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
    sizes = _plan_backtest(ds, specs, reps, budget)
    cap_cache: dict[str, tuple[list[np.ndarray], list[str]]] = {}
    seeds_all = np.array(
        [[issue_seed(seed, j, k) for k in range(reps)] for j in range(len(ds.issues))], dtype=np.uint64
    ).reshape(len(ds.issues), reps)
    forecasts: dict[str, np.ndarray] = {}
    not_run: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    notes: list[str] = []
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
        caps = cap_cache[kind][0]
        fc = np.full(len(ds.issues), np.nan)
        skipped_reason: dict[str, int] = {}
        by_proposal = bool(getattr(module, "COUPLES_ISSUES", False))
        try:
            (_forecast_proposals if by_proposal else _forecast_issues)(
                ds, module, params, caps, reps, seeds_all, fc, skipped_reason, sizes[spec.label]
            )
        except Exception as exc:  # a model bug must not hide every other model's score
            failures[spec.label] = f"{type(exc).__name__}: {exc}"
            continue
        forecasts[spec.label] = fc
        if skipped_reason:
            not_run[spec.label] = {
                "n": int(sum(skipped_reason.values())),
                "reason": "; ".join(skipped_reason),
            }
    return forecasts, not_run, failures, notes


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
    specs = _specs(models)
    forecasts, not_run, failures, notes = run_models(ds, specs, cap, draws=draws, seed=seed, budget=budget)
    try:
        caps = capabilities(ds, cap)[0]
    except ValueError as exc:
        raise DetenteError([Problem(None, None, "capability", str(exc))]) from None
    diffs = issue_difficulties(ds, caps)
    if train is None:
        how = (f"bands learned by {FOLDS}-fold grouped cross-conformal prediction: each proposal's issues get bands "
               "learned from the other folds' proposals")
        prob = {k: model_bands(ds, fc, diffs, folds=FOLDS, seed=seed) for k, fc in forecasts.items()}
        scored = ds
    else:
        others = ", ".join(w for w in waves(ds) if w != holdout_wave)
        how = (f"held-out wave {holdout_wave}: bands learned from wave(s) {others} only "
               f"({int(train.sum())} issues); only {holdout_wave} is scored")
        prob = {}
        for k, fc in forecasts.items():
            p = model_bands(ds, fc, diffs, train=train, seed=seed)
            prob[k] = {key: (v[~train] if isinstance(v, np.ndarray) else v) for key, v in p.items()}
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
