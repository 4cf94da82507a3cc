"""The fast exact-decimal exchange path (``_exchange_exact``) against the slow reference (``_exchange_decimal``).

The reference redoes Decide's 28-digit decimal arithmetic operation by operation (and is checked against Decide's
own runs in ``test_exchange_decide.py``). The fast path sizes candidates in float with a proved error bound and
recomputes in decimal whatever the bound does not settle; it must give the reference's results bit for bit:
positions, forecasts, exchange counts and every realised exchange (actors, issues, positions, gain), on Decide's
files (also with the actors listed in reverse), and on random scenarios built to sit on knife-edges and exact ties.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from detente import api
from detente.models import _exchange_decimal, _exchange_exact, _jit, exchange
from detente.models.base import Inputs
from test_exchange_decide import _reversed  # the file with its actors listed in reverse

DATA = Path(__file__).parent / "data" / "decide"


def _same(a, b):
    assert np.array_equal(a.extras["exchanges"], b.extras["exchanges"])
    assert np.array_equal(a.extras["trades"], b.extras["trades"], equal_nan=True)
    assert np.array_equal(a.position, b.position)
    assert np.array_equal(a.forecast, b.forecast)
    assert np.array_equal(a.rounds, b.rounds)


@pytest.mark.parametrize("name", ["sample_data.txt", "cop21.csv", "copenhagen.csv", "knife_edge.csv"])
def test_fast_is_the_reference_on_decides_files(name, monkeypatch):
    inp = api.load(str(DATA / name)).to_inputs()
    real, slow = _exchange_decimal._round, []
    monkeypatch.setattr(_exchange_decimal, "_round", lambda *a: slow.append(1) or real(*a))
    fast = exchange.run(inp, exchange.Params(arithmetic="decimal"))
    monkeypatch.setattr(_exchange_decimal, "_round", real)
    # the fast path, not its fallback to the reference's round (which would pass the equality at ~10x the cost):
    # one round of ten on sample_data (a side's earlier moves summing to 100 within the bound), none elsewhere
    assert len(slow) <= (1 if name == "sample_data.txt" else 0), len(slow)
    _same(fast, _exchange_decimal.run(inp, 10, "first"))


@pytest.mark.parametrize("name", ["sample_data.txt", "copenhagen.csv"])
def test_fast_is_the_reference_with_the_actors_reversed(name, tmp_path):
    inp = api.load(str(_reversed(name, tmp_path))).to_inputs()
    _same(_exchange_exact.run(inp, 10), _exchange_decimal.run(inp, 10, "first"))


def _grid_case(rng):
    """Positions and saliences on a coarse grid, some actors duplicated: outcomes land exactly on positions (knife-
    edges), moves end exactly on 0 or 100, and equal actors make exactly equal gains (ties)."""
    n, D = int(rng.integers(4, 9)), int(rng.integers(2, 6))
    x = rng.choice([0.0, 10.0, 25.0, 50.0, 60.0, 75.0, 100.0], (n, D))
    s = rng.choice([0.0, 0.2, 0.25, 0.5, 0.6, 0.75, 1.0], (n, D))
    c = rng.choice([0.2, 0.5, 1.0], n)
    for _ in range(int(rng.integers(0, 3))):  # copies of an actor
        a, b = rng.choice(n, 2, replace=False)
        x[b], s[b], c[b] = x[a], s[a], c[a]
    return x, s, c


def _inputs(x, s, c):
    D = x.shape[1]
    return Inputs.build(x.tolist(), s.tolist(), c.tolist(), low=[0.0] * D, high=[100.0] * D)


def test_fast_is_the_reference_on_random_scenarios():
    from _exchange_reference import random_case

    rng = np.random.default_rng(1313)
    traded = 0
    for k in range(60):
        x, s, c = _grid_case(rng) if k % 2 else random_case(rng, 5)
        inp = _inputs(x, s, c)
        ref = _exchange_decimal.run(inp, 6, "first")
        _same(_exchange_exact.run(inp, 6), ref)
        traded += int(ref.extras["exchanges"].sum())
    assert traded > 500  # the scenarios trade


def test_fast_meets_knife_edges_and_ties_and_settles_them_in_decimal(monkeypatch):
    # the grid scenarios do put decisions inside the float bound (else the test above would not test the decimal side)
    settled = []
    orig = _exchange_exact._State.settle
    monkeypatch.setattr(_exchange_exact._State, "settle", lambda self, row: settled.append(row) or orig(self, row))
    rng = np.random.default_rng(7)
    for _ in range(30):
        inp = _inputs(*_grid_case(rng))
        _same(_exchange_exact.run(inp, 5), _exchange_decimal.run(inp, 5, "first"))
    assert len(settled) > 50


def test_the_exact_choice_is_the_references(monkeypatch):
    # the choice the float margins cannot settle (gains a hair from the tie threshold) is made in decimal by
    # _State.choose; made that way at every step, the run is still the reference's
    pure = _jit.pure_module("detente.models._exchange_exact_kernel")
    step = pure.step
    calls = []

    def unsure(*args):
        code = step(*args)
        calls.append(code)
        return -3 if code >= 0 else code

    monkeypatch.setattr(pure, "step", unsure)
    monkeypatch.setattr(_exchange_exact, "_kernel", lambda: pure)
    rng = np.random.default_rng(11)
    for _ in range(6):
        inp = _inputs(*_grid_case(rng))
        _same(_exchange_exact.run(inp, 3), _exchange_decimal.run(inp, 3, "first"))
    assert sum(c >= 0 for c in calls) > 20


def test_without_numba_the_same(monkeypatch):
    pure = _jit.pure_module("detente.models._exchange_exact_kernel")
    monkeypatch.setattr(_exchange_exact, "_kernel", lambda: pure)
    rng = np.random.default_rng(5)
    for _ in range(4):
        inp = _inputs(*_grid_case(rng))
        _same(_exchange_exact.run(inp, 3), _exchange_decimal.run(inp, 3, "first"))


# Decide's own list (``ties="decide"``: its coin off; ``ties="coin"``: its coin from the draw's seed) on the fast path:
# the kernel sorts the list, every near-tie sized in decimal, and recalculates every listing (double ones included).


@pytest.mark.parametrize("ties", ["decide", "coin"])
@pytest.mark.parametrize("name", ["sample_data.txt", "copenhagen.csv", "knife_edge.csv"])
def test_decides_list_on_the_fast_path_is_the_reference_on_decides_files(name, ties, monkeypatch):
    inp = api.load(str(DATA / name)).to_inputs(batch=2, seed=3)
    slow = []
    for f in ("_round", "_coin_round"):
        real = getattr(_exchange_decimal, f)
        monkeypatch.setattr(_exchange_decimal, f, lambda *a, real=real: slow.append(1) or real(*a))
    fast = _exchange_exact.run(inp, 10, ties)
    monkeypatch.undo()
    # the fast path plays the rounds, not the reference: at most one round of ten per draw on sample_data (a side's
    # earlier moves summing to 100 within the bound), none elsewhere
    assert len(slow) <= (2 if name == "sample_data.txt" else 0), len(slow)
    _same(fast, _exchange_decimal.run(inp, 10, ties))


@pytest.mark.parametrize("ties", ["decide", "coin"])
def test_decides_list_on_the_fast_path_is_the_reference_on_random_scenarios(ties):
    from _exchange_reference import random_case

    rng = np.random.default_rng(2024)
    flips = 0
    for k in range(40):
        x, s, c = _grid_case(rng) if k % 2 else random_case(rng, 5)
        inp = Inputs.build(x.tolist(), s.tolist(), c.tolist(), low=[0.0] * x.shape[1], high=[100.0] * x.shape[1],
                           seed=[k])
        ref = _exchange_decimal.run(inp, 6, ties)
        _same(_exchange_exact.run(inp, 6, ties), ref)
        if ties == "coin":  # a run whose coin is never flipped would not test it: count the runs that differ
            flips += not np.array_equal(ref.forecast, _exchange_decimal.run(inp, 6, "decide").forecast)
    assert ties == "decide" or flips >= 5


def test_coin_on_the_fast_path_without_numba(monkeypatch):
    pure = _jit.pure_module("detente.models._exchange_exact_kernel")
    monkeypatch.setattr(_exchange_exact, "_kernel", lambda: pure)
    rng = np.random.default_rng(9)
    for k in range(4):
        x, s, c = _grid_case(rng)
        inp = Inputs.build(x.tolist(), s.tolist(), c.tolist(), low=[0.0] * x.shape[1], high=[100.0] * x.shape[1],
                           seed=[k])
        _same(_exchange_exact.run(inp, 3, "coin"), _exchange_decimal.run(inp, 3, "coin"))
def test_hilo_is_the_decimal_remainder():
    # _hilo (whole-number arithmetic on the digits) gives what _hilo_wide computes in wide decimals: the nearest
    # double, the nearest double to the remainder, the exponent of the last digit
    import decimal
    from decimal import Decimal

    rng = np.random.default_rng(3)
    with decimal.localcontext(_exchange_decimal.CONTEXT):
        vals = [Decimal(int(rng.integers(0, 10**15))) / Decimal(int(rng.integers(1, 10**15))) * Decimal(int(k))
                for k in rng.integers(1, 100, 300)]
        vals += [Decimal(repr(float(v))) * Decimal("0.4") + Decimal(1) / Decimal(3) for v in rng.uniform(0, 100, 100)]
    vals += [Decimal(v) for v in ("0", "100", "50", "50.0", "0.1", "12.500", "1E+1", "1.5E-7", "0.0000012", "-3.25",
                                  "99.99999999999999999999999999", "0.3333333333333333333333333333", "1E-30", "0E-5")]
    for v in vals:
        fast, wide = _exchange_exact._hilo(v), _exchange_exact._hilo_wide(v)
        assert fast == wide, (v, fast, wide)
        assert fast[0] == float(v)


def _counting(monkeypatch):
    """Count the rows sized in decimal (``settle``) and record the certified path of every realised row."""
    settled, paths = [], []
    orig_settle, orig_realise = _exchange_exact._State.settle, _exchange_exact._State.realise
    monkeypatch.setattr(_exchange_exact._State, "settle", lambda self, row: settled.append(row) or orig_settle(self, row))

    def realise(self, row, *more):
        paths.append(int(self.iv[row, self.k.PATH]))
        return orig_realise(self, row, *more)

    monkeypatch.setattr(_exchange_exact._State, "realise", realise)
    return settled, paths


def test_a_whole_move_between_the_bounds_is_certain_in_float(monkeypatch):
    # actors on 0 and 100 only: every move that goes all the way to its partner is exactly 100 long (valid: Decide
    # refuses only a move longer than 100); the float bound alone cannot tell 100 from a hair above, the kernel's
    # exact-difference rule (_quantum) can: none of these decisions goes to decimal, and the run is the reference's
    settled, paths = _counting(monkeypatch)
    rng = np.random.default_rng(21)
    traded = 0
    for _ in range(6):
        n, D = 6, 3
        x = rng.choice([0.0, 100.0], (n, D))
        s = rng.uniform(0.2, 1.0, (n, D))
        c = rng.uniform(0.2, 1.0, n)
        inp = _inputs(x, s, c)
        ref = _exchange_decimal.run(inp, 1, "first")
        _same(_exchange_exact.run(inp, 1), ref)
        traded += int(ref.extras["exchanges"].sum())
    assert traded >= 6 and len(paths) == traded
    assert not settled, len(settled)


def test_the_realised_sizes_follow_every_certified_path(monkeypatch):
    # a realised row whose float sizing was certain is sized in decimal along its path only (_State.realise): the
    # random scenarios realise rows down each path (J all the way, I all the way, I's cap, J's cap) and rows sized in
    # decimal, and the runs are the reference's bit for bit
    from _exchange_reference import random_case

    settled, paths = _counting(monkeypatch)
    k = _exchange_exact._kernel()
    rng = np.random.default_rng(1414)
    for j in range(30):
        x, s, c = _grid_case(rng) if j % 2 else random_case(rng, 5)
        inp = _inputs(x, s, c)
        _same(_exchange_exact.run(inp, 4), _exchange_decimal.run(inp, 4, "first"))
    kinds = {"decimal": 0, "J all the way": 0, "I all the way": 0, "I's cap": 0, "J's cap": 0}
    for pth in paths:
        if not pth & k.CERTAIN:
            kinds["decimal"] += 1
        elif pth & k.CAP_J:
            kinds["J's cap"] += 1
        elif pth & k.CAP_I:
            kinds["I's cap"] += 1
        else:
            kinds["I all the way" if pth & k.ALL_I else "J all the way"] += 1
    assert min(kinds.values()) >= 3, kinds


def _split(monkeypatch, k):
    """Split every batch over ``k`` processes (whatever its size), recording the children forked."""
    forked = []
    orig = _exchange_exact._fork

    def fork(fn):
        forked.append(orig(fn))
        return forked[-1]

    monkeypatch.setattr(_exchange_exact, "SPLIT_WORK", 0)
    monkeypatch.setenv("DETENTE_THREADS", str(k))
    monkeypatch.setattr(_exchange_exact, "_fork", fork)
    return forked


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_draws_split_over_processes_give_the_same_result(monkeypatch):
    # each draw's play is independent: played by forked children (every k-th draw each) or in one process, the
    # batch's result is the same bit for bit, and every child has ended
    from _exchange_reference import random_case

    rng = np.random.default_rng(17)
    cases = [random_case(rng, 4) for _ in range(7)]
    n, D = max(x.shape[0] for x, _, _ in cases), max(x.shape[1] for x, _, _ in cases)
    x, s, c = np.full((7, n, D), 50.0), np.zeros((7, n, D)), np.full((7, n), 0.5)
    for b, (xb, sb, cb) in enumerate(cases):  # a batch of draws of different sizes (zero salience: sits out)
        x[b, : xb.shape[0], : xb.shape[1]], s[b, : sb.shape[0], : sb.shape[1]], c[b, : cb.shape[0]] = xb, sb, cb
    inp = Inputs.build(x, s, c, low=[0.0] * D, high=[100.0] * D)
    one = _exchange_exact.run(inp, 5)
    assert one.extras["exchanges"].sum() > 20
    for k in (2, 3):
        forked = _split(monkeypatch, k)
        _same(_exchange_exact.run(inp, 5), one)
        assert len(forked) == k - 1 and all(_gone(pid) for pid, _ in forked)
    _same(one, _exchange_decimal.run(inp, 5, "first"))


def test_a_childs_error_is_raised_and_a_cancel_ends_the_children(monkeypatch):
    from detente import _cancel

    inp = api.load(str(DATA / "sample_data.txt")).to_inputs()
    inp = Inputs.build(np.repeat(inp.position, 4, 0), np.repeat(inp.salience, 4, 0), np.repeat(inp.capability, 4, 0),
                       low=inp.low, high=inp.high)
    forked = _split(monkeypatch, 2)
    parent, play = os.getpid(), _exchange_exact.play

    def failing(*a, **k):  # draw 1 is the child's: it fails there
        if os.getpid() != parent:
            raise ValueError("a child's error")
        return play(*a, **k)

    monkeypatch.setattr(_exchange_exact, "play", failing)
    with pytest.raises(ValueError, match="a child's error"):
        _exchange_exact.run(inp, 10)
    monkeypatch.setattr(_exchange_exact, "play", play)
    ev = threading.Event()
    ev.set()
    with _cancel.scope(ev), pytest.raises(_cancel.Cancelled):
        _exchange_exact.run(inp, 10)
    assert len(forked) == 2 and all(_gone(pid) for pid, _ in forked)


def test_coin_split_over_processes_is_each_draw_alone():
    # a batch big enough to be split over forked processes: each draw's coin still comes from its own seed
    inp = api.load(str(DATA / "cop21.csv")).to_inputs(batch=6, seed=40)
    assert _exchange_exact.processes(*inp.shape) > 1 or _jit.threads() < 2
    batch = _exchange_exact.run(inp, 3, "coin")
    for b in (0, 5):
        alone = _exchange_exact.run(inp.take(slice(b, b + 1)), 3, "coin")
        assert np.array_equal(batch.forecast[b : b + 1], alone.forecast)
        assert np.array_equal(batch.extras["trades"][b : b + 1], alone.extras["trades"], equal_nan=True)


# The list's lazy order: listings whose gains the float bounds cannot order are kept as a group (in an order from which
# Decide's follows by a stable sort on exact gains) and ordered in decimal only when Decide's list shows it: at the top,
# or when one of them is re-sized to a gain that may equal another's of the group (ordered then by the gains before the
# re-sizing). Scenarios made of copies of a few actors on a coarse grid put many exact ties below the top, re-size them
# while their group is unordered, and (with the coin) list rows twice.


def _tie_case(rng):
    n, D = int(rng.integers(6, 11)), int(rng.integers(3, 6))
    kinds = int(rng.integers(2, 4))
    x0 = rng.choice([0.0, 25.0, 50.0, 75.0, 100.0], (kinds, D))
    s0 = rng.choice([0.25, 0.5, 1.0], (kinds, D))
    c0 = rng.choice([0.5, 1.0], kinds)
    who = rng.integers(0, kinds, n)
    x, s, c = x0[who].copy(), s0[who].copy(), c0[who].copy()
    for a in rng.choice(n, int(rng.integers(0, 3)), replace=False):  # a few actors off the copies
        x[a, rng.integers(0, D)] = rng.choice([10.0, 40.0, 60.0, 90.0])
    return x, s, c


class _Watch:
    """The kernel, with what its list's steps (``advance``) asked of the caller counted: groups to order after a
    re-sizing (and their listings), and a group at the top."""

    def __init__(self, k):
        self.k, self.groups, self.split_rows, self.top = k, 0, 0, 0

    def __getattr__(self, name):
        return getattr(self.k, name)

    def advance(self, *args):
        code = self.k.advance(*args)
        k, S, LI = self.k, args[5], args[6]
        if code == k.R_GROUPS:
            ng = int(S[k.S_NG])
            out = LI[k.L_GROUPS]
            self.groups += ng
            self.split_rows += sum(int(out[2 * g + 1] - out[2 * g]) for g in range(ng))
        self.top += code == k.R_TOP
        return code


@pytest.mark.parametrize("ties", ["decide", "coin"])
def test_lazy_groups_of_ties_are_the_references(ties, monkeypatch):
    watch = _Watch(_exchange_exact._kernel())
    monkeypatch.setattr(_exchange_exact, "_kernel", lambda: watch)
    olds = []  # gains sized from a row's state before a recalculation (along its certain path, else in full)
    orig, orig_gain = _exchange_exact._State.exchange, _exchange_exact._State.gain

    def exchange(self, row, hint=False):
        olds.append(isinstance(self, _exchange_exact._Before))
        return orig(self, row, hint)

    def gain(self, row):
        g = orig_gain(self, row)
        olds.append(g is not None and isinstance(self, _exchange_exact._Before))
        return g

    monkeypatch.setattr(_exchange_exact._State, "exchange", exchange)
    monkeypatch.setattr(_exchange_exact._State, "gain", gain)
    rng = np.random.default_rng(4242)
    flips = 0
    for k in range(24):
        x, s, c = _tie_case(rng)
        inp = Inputs.build(x.tolist(), s.tolist(), c.tolist(), low=[0.0] * x.shape[1], high=[100.0] * x.shape[1],
                           seed=[k])
        ref = _exchange_decimal.run(inp, 5, ties)
        _same(_exchange_exact.run(inp, 5, ties), ref)
        if ties == "coin":
            flips += not np.array_equal(ref.forecast, _exchange_decimal.run(inp, 5, "decide").forecast)
    # the scenarios do what they are for: groups of ties reach the top, and groups are ordered after a re-sizing
    assert watch.top > 200 and watch.groups > 100 and sum(olds) > 100, (vars(watch), sum(olds))
    assert ties == "decide" or flips >= 5


@pytest.mark.parametrize("ties", ["decide", "coin"])
def test_a_gain_along_its_certain_path_is_the_whole_sizings(ties, monkeypatch):
    # the lazy list sizes a listed row's exact gain (now, or before a recalculation) along the path its certain float
    # sizing took (_State.gain, realise's operations) instead of a whole decimal sizing: every such gain, on the tie
    # scenarios and on cop21, is the one the whole sizing (_State.exchange, the reference's _size) gives
    orig = _exchange_exact._State.gain
    checked = []

    def gain(self, row):
        g = orig(self, row)
        if g is not None:
            whole = self.exchange(row)
            assert whole.ok and g == whole.gain and str(g) == str(whole.gain), (row, g, whole.gain)
            checked.append(isinstance(self, _exchange_exact._Before))
        return g

    monkeypatch.setattr(_exchange_exact._State, "gain", gain)
    rng = np.random.default_rng(77)
    for k in range(10):
        x, s, c = _tie_case(rng)
        inp = Inputs.build(x.tolist(), s.tolist(), c.tolist(), low=[0.0] * x.shape[1], high=[100.0] * x.shape[1],
                           seed=[k])
        _same(_exchange_exact.run(inp, 4, ties), _exchange_decimal.run(inp, 4, ties))
    _exchange_exact.run(api.load(str(DATA / "cop21.csv")).to_inputs(batch=1, seed=5), 3, ties)
    assert sum(checked) > 50 and len(checked) - sum(checked) > 50, (sum(checked), len(checked))


@pytest.mark.parametrize("compiled", [True, False])
def test_the_lists_resort_is_a_stable_sort(compiled):
    # arrange's sort of the list's units after a step (_resort: a chain in order, the few others sorted and merged in)
    # is a stable sort by top, highest first, whatever the keys: lists sorted but for a few re-sized units, ties, NaN-
    # free infinities, and lists in no order at all
    k = _exchange_exact._kernel() if compiled else _jit.pure_module("detente.models._exchange_exact_kernel")
    rng = np.random.default_rng(3)
    for trial in range(400 if compiled else 60):
        nu = int(rng.integers(0, 200))
        u = np.sort(rng.choice([0.1, 0.2, 0.3, 0.5, 0.7, 1.0, *rng.random(5)], nu))[::-1].copy()
        for _ in range(int(rng.integers(0, 50))):
            if nu:
                u[rng.integers(nu)] = rng.choice([rng.random(), 0.5, 0.0, np.inf])
        if trial % 7 == 0:
            u = rng.random(nu)
        o = np.full(nu, -1, dtype=np.int64)
        k._resort(u, nu, o, *(np.empty(nu, dtype=np.int64) for _ in range(3)))
        assert np.array_equal(o, np.argsort(-u, kind="stable")), trial
    # a NaN top (no order): the insertion sort's own order, as before the chain
    u = np.array([0.5, np.nan, 0.7, 0.2, np.nan, 0.9])
    want: list[int] = []
    for v in range(len(u)):
        j = len(want)
        while j > 0 and u[want[j - 1]] < u[v]:
            j -= 1
        want.insert(j, v)
    o = np.empty(len(u), dtype=np.int64)
    k._resort(u, len(u), o, *(np.empty(len(u), dtype=np.int64) for _ in range(3)))
    assert o.tolist() == want


@pytest.mark.parametrize("compiled", [True, False])
def test_the_lists_merge_sort_is_numpys_stable_sort(compiled):
    # _msort (the kernel allocates nothing: its own merge sort, where numpy's argsort stood) orders units as numpy's
    # stable argsort of -key does: highest first, equal keys in unit order, NaN last, -0.0 equal to 0.0
    k = _exchange_exact._kernel() if compiled else _jit.pure_module("detente.models._exchange_exact_kernel")
    rng = np.random.default_rng(8)
    for trial in range(300 if compiled else 40):
        m = int(rng.integers(0, 150))
        key = rng.choice([0.1, 0.5, 0.0, -0.0, np.inf, -np.inf, np.nan, *rng.random(4)], m)
        units = np.arange(m, dtype=np.int64)
        if trial % 3 == 0:  # any units, in any order: a sort by (key, unit)
            units = rng.permutation(m).astype(np.int64)
        want = sorted(units.tolist(), key=lambda u: (np.isnan(key[u]), -key[u] if not np.isnan(key[u]) else 0.0, u))
        got = units.copy()
        k._msort(got, m, key, np.empty(m, dtype=np.int64))
        assert got.tolist() == want, trial
        if trial % 3:
            assert got.tolist() == np.argsort(-key, kind="stable").tolist(), trial
