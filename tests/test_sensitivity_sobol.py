"""The Sobol' indices and their bootstrap intervals (analysis/sensitivity.py ``sobol_indices``) against SALib's
``SALib.analyze.sobol.analyze``, the reference they must equal bit for bit, and the Sobol analysis's own
bookkeeping (a forecast that does not vary, the indices of a known function)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from detente.analysis.sensitivity import RESAMPLES, saltelli, sobol_indices


def _salib(Y: np.ndarray, K: int, seed: int) -> dict[str, np.ndarray]:
    from SALib.analyze import sobol as sobol_analyze

    problem = {"num_vars": K, "names": [f"x{i}" for i in range(K)], "bounds": [[0.0, 1.0]] * K}
    out = {k: [] for k in ("S1", "S1_conf", "ST", "ST_conf")}
    for d in range(Y.shape[1]):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            S = sobol_analyze.analyze(problem, Y[:, d], calc_second_order=False, num_resamples=RESAMPLES, seed=seed)
        for k in out:
            out[k].append(np.asarray(S[k]))
    return {k: np.array(v) for k, v in out.items()}


def _outputs(K: int, N: int, D: int, rng: np.random.Generator) -> np.ndarray:
    """Outputs of every kind the estimators meet: skewed, tied (rounded to a few values), and one factor dominant."""
    X = saltelli(K, N, int(rng.integers(1000)))
    Y = np.empty((X.shape[0], D))
    w = rng.uniform(0, 1, K) ** 3
    for d in range(D):
        y = (X * w).sum(axis=1) + (d + 1) * X[:, 0] * X[:, -1] + 0.1 * rng.normal(size=X.shape[0]) ** 3
        Y[:, d] = np.round(y, 1) if d % 2 else y
    return Y


@pytest.mark.parametrize("K, N, D, seed", [(1, 2, 1, 1), (3, 8, 2, 5), (58, 256, 3, 1), (7, 1024, 4, 124), (20, 64, 2, 2**40)])
def test_sobol_indices_are_salibs_bit_for_bit(K, N, D, seed):
    Y = _outputs(K, N, D, np.random.default_rng(K * 1000 + N))
    got = sobol_indices(Y, K, N, seed)
    want = _salib(Y, K, seed)
    for k in ("S1", "S1_conf", "ST", "ST_conf"):
        assert got[k].shape == (D, K)
        assert np.array_equal(got[k], want[k]), k


def test_sobol_indices_where_a_and_b_do_not_vary():
    # the A and B rows constant, the AB rows not: SALib's estimators give 0 (and so do their intervals)
    K, N = 3, 16
    Y = np.zeros((N * (K + 2), 1))
    rows = Y.reshape(N, K + 2)
    rows[:, 1 : K + 1] = np.arange(N * K).reshape(N, K) % 5
    got = sobol_indices(Y, K, N, 1)
    want = _salib(Y, K, 1)
    for k in ("S1", "S1_conf", "ST", "ST_conf"):
        assert np.array_equal(got[k], want[k]) and not got[k].any(), k


def test_sobol_indices_of_a_known_function():
    # Y = x0 + 2 x1 on uniforms: variances 1/12 and 4/12, so S1 = ST = (0.2, 0.8) (no interaction; Saltelli et al. 2008)
    K, N = 2, 4096
    X = saltelli(K, N, 3)
    Y = (X[:, 0] + 2 * X[:, 1])[:, None]
    S = sobol_indices(Y, K, N, 1)
    assert np.allclose(S["S1"][0], [0.2, 0.8], atol=0.02)
    assert np.allclose(S["ST"][0], [0.2, 0.8], atol=0.02)
    assert (S["S1_conf"] > 0).all() and (S["S1_conf"] < 0.1).all()


def test_sobol_indices_refuse_a_wrong_number_of_outputs():
    with pytest.raises(ValueError, match="expected 20 outputs for N = 4 and K = 3"):
        sobol_indices(np.zeros((21, 1)), 3, 4, 1)


def test_sobol_analysis_with_an_issue_that_does_not_vary():
    import detente
    from detente.analysis import sensitivity

    s = detente.load({"name": "two", "issues": [{"key": "x"}, {"key": "y"}], "actors": [
        {"key": "a", "capability": 10, "positions": {"x": {"value": 50, "low": 0, "high": 100, "dist": "uniform"}, "y": 20},
         "salience": {"x": 50, "y": 50}},
        {"key": "b", "capability": 10, "positions": {"x": 40, "y": 80}, "salience": {"x": 50, "y": 50}},
    ]})
    res = sensitivity(s, "compromise", "sobol", samples=64, seed=0)
    df = res.to_frame().set_index(["issue", "input"])
    assert "y: the forecast does not vary; every index is 0" in res.notes
    assert (df.loc["y", ["S1", "S1_conf", "ST", "ST_conf"]].to_numpy() == 0).all()
    assert df.loc[("x", "a.position.x"), "S1"] == pytest.approx(1.0, abs=0.05)
    assert df.loc[("x", "a.position.x"), "S1_conf"] > 0


def test_inputs_mapped_on_the_bases_are_the_inputs_of_the_rows():
    # the Sobol analysis applies each input's distribution to A's and B's rows only (saltelli_rows): the
    # same values as applying it to every row of the sample, for every kind of distribution
    import detente
    from detente.analysis._draws import uncertain_inputs
    from detente.analysis.sensitivity import saltelli_bases, saltelli_rows

    s = detente.load({"name": "kinds", "issues": [{"key": "x"}], "actors": [
        {"key": "a", "capability": {"value": 10, "low": 5, "high": 15}, "positions": {"x": {"value": 30, "sd": 20, "dist": "normal"}},
         "salience": {"x": {"value": 50, "low": 10, "high": 90, "dist": "uniform"}}},
        {"key": "b", "capability": 10, "positions": {"x": {"value": 80, "low": 60, "high": 100}}, "salience": {"x": 50}}]})
    unc = uncertain_inputs(s)
    assert {u.value.dist for u in unc} == {"normal", "uniform", None}  # None: the default, triangular
    K, N = len(unc), 64
    A, B = saltelli_bases(K, N, 9)
    X = saltelli(K, N, 9)
    assert np.array_equal(saltelli_rows(A, B), X)
    va = np.column_stack([u.ppf(A[:, k]) for k, u in enumerate(unc)])
    vb = np.column_stack([u.ppf(B[:, k]) for k, u in enumerate(unc)])
    want = np.column_stack([u.ppf(X[:, k]) for k, u in enumerate(unc)])
    assert np.array_equal(saltelli_rows(va, vb), want)


def test_sobol_of_events_alone():
    import detente
    from detente.analysis import sensitivity

    s = detente.load({"name": "ev", "rounds": 4, "issues": [{"key": "x"}], "actors": [
        {"key": "a", "capability": 10, "positions": {"x": 20}, "salience": {"x": 50}},
        {"key": "b", "capability": 10, "positions": {"x": 80}, "salience": {"x": 50}}],
        "events": [{"name": "b moves", "type": "change", "actor": "b", "round": 2, "probability": 0.5,
                    "changes": {"positions": {"x": 40}}}]})
    res = sensitivity(s, "compromise", "sobol", samples=64, seed=0)
    (row,) = res.to_frame().to_dict("records")
    assert row["input"] == "event.b-moves" or row["field"] == "event"
    assert row["S1"] == pytest.approx(1.0, abs=0.1) and row["ST"] == pytest.approx(1.0, abs=0.1)
