"""Packaging: optional extras, lazy imports, the numba kernels and their plain-Python mirror.

* Without numba, bdm's kernels run as plain Python and give the same numbers
  bit for bit: both paths run here on random scenarios and are compared with ``==``.
* ``detente warmup`` compiles the one signature every run uses, and a stale
  numba cache is dropped when the kernel's source changes.
* ``import detente`` loads no optional library; a missing extra is named, never
  shown as an ImportError traceback.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import detente
from detente import models
from detente._extras import MissingExtraError, missing_extra
from detente.models import _jit, bdm
from detente.models.base import Inputs

OPTIONAL = ["pandas", "scipy", "SALib", "numba", "matplotlib", "fastapi", "uvicorn", "typer", "rich", "platformdirs"]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------------------
# bdm: compiled kernels == plain-Python kernels, bit for bit
# ---------------------------------------------------------------------------


def _both(monkeypatch: pytest.MonkeyPatch, f, *args, **kwargs):
    """``f`` run with the compiled kernels, then with the plain-Python ones."""
    assert _jit.numba_available(), "the test extra installs numba: the compiled path must be tested"
    monkeypatch.setattr(bdm, "PURE_MAX_WORK", -1)
    compiled = f(*args, **kwargs)
    monkeypatch.setattr(bdm, "PURE_MAX_WORK", float("inf"))
    pure = f(*args, **kwargs)
    return compiled, pure


def _equal(a, b) -> None:
    """Same dtype, shape and bits (NaN where the other has NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def test_the_plain_python_kernel_is_the_same_source_uncompiled():
    pure = _jit.pure_module("detente.models._bdm_kernel")
    from detente.models import _bdm_kernel

    assert _bdm_kernel.COMPILED and not pure.COMPILED
    assert isinstance(pure.run_rows, types.FunctionType)  # not a numba dispatcher
    assert pure.run_rows.__code__.co_code == _bdm_kernel.run_rows.py_func.__code__.co_code


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    B=st.integers(1, 3),
    n=st.integers(2, 9),
    D=st.integers(1, 2),
    variant=st.sampled_from(["scholz2011_code", "paper"]),
    own=st.booleans(),
    Q=st.sampled_from([1.0, 0.7]),
    stop=st.sampled_from(["rounds", "convergence"]),
    pooled=st.booleans(),
)
def test_pure_python_bdm_equals_compiled_bit_for_bit(monkeypatch, seed, B, n, D, variant, own, Q, stop, pooled):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 100, (B, n, D))
    if pooled:  # actors sharing positions take the kernels' copy-the-first-actor branches
        x = np.round(x / 25) * 25
    s = rng.uniform(0, 1, (B, n, D))
    s[rng.random((B, n, D)) < 0.15] = 0.0
    c = rng.uniform(0.1, 10, (B, n))
    act = rng.random((B, n)) < 0.85
    act[:, 0] = True
    inputs = Inputs.build(x, s, c, active=act)
    params = bdm.Params(variant=variant, own_perspective=own, Q=Q, stop=stop, rounds=int(rng.integers(1, 12)))

    compiled, pure = _both(monkeypatch, bdm.run, inputs, params)
    _equal(compiled.position, pure.position)
    _equal(compiled.forecast, pure.forecast)
    _equal(compiled.rounds, pure.rounds)
    assert compiled.extras.keys() == pure.extras.keys() and compiled.info.keys() == pure.info.keys()
    for key in compiled.extras:
        _equal(compiled.extras[key], pure.extras[key])
    for key in compiled.info:
        _equal(compiled.info[key], pure.info[key])

    eu_c, eu_p = _both(monkeypatch, bdm.expected_utilities, inputs, params)
    _equal(eu_c["eu_self"], eu_p["eu_self"])
    _equal(eu_c["eu_other"], eu_p["eu_other"])

    rows = x.transpose(0, 2, 1).reshape(-1, n)
    w = np.broadcast_to(c[:, None, :], (B, D, n)).reshape(-1, n)
    r = rng.uniform(0.5, 2, rows.shape)
    p_c, p_p = _both(monkeypatch, bdm.probabilities, rows, w, r, variant=variant)
    _equal(p_c, p_p)


def test_without_numba_a_forecast_runs_as_plain_python():
    code = (
        "import sys, detente\n"
        "r = detente.forecast('korea-2019', model='bdm')\n"
        "from detente.models import bdm\n"
        "assert not bdm._kernel().COMPILED\n"
        "print('numba' in sys.modules, r.to_json())\n"
    )
    env_off = _run(f"import os; os.environ['DETENTE_NO_NUMBA'] = '1'\n{code}")
    assert env_off.returncode == 0, env_off.stderr
    assert env_off.stdout.startswith("False ")
    # the same forecast as in this process (compiled kernels available)
    expected = detente.forecast("korea-2019", model="bdm").to_json()
    assert env_off.stdout.split(" ", 1)[1].strip() == expected


# ---------------------------------------------------------------------------
# warmup and the numba cache
# ---------------------------------------------------------------------------


def test_warmup_compiles_the_one_signature_every_run_uses():
    from detente.models import _bdm_kernel

    assert "bdm" in models.warmup()
    kernels = (_bdm_kernel.run_rows, _bdm_kernel.eu_rows, _bdm_kernel.probability_rows)
    before = [list(k.signatures) for k in kernels]
    assert all(len(sig) == 1 for sig in before)
    # runs of other shapes (one draw: broadcast, read-only arrays; many draws; segments with a past)
    old = bdm.PURE_MAX_WORK
    try:
        bdm.PURE_MAX_WORK = -1
        scen = detente.load("korea-2019")
        detente.forecast(scen, model="bdm")
        detente.monte_carlo(scen, model="bdm", draws=20, seed=1)
        inp = scen.to_inputs(seed=0)
        bdm.expected_utilities(inp)
        bdm.run(dataclasses.replace(inp, past=np.repeat(inp.position[:, None], 2, axis=1)))
        bdm.probabilities(inp.position[0].T, inp.capability[0])
    finally:
        bdm.PURE_MAX_WORK = old
    assert [list(k.signatures) for k in kernels] == before  # nothing compiled after the warmup


def test_after_warmup_a_fresh_process_loads_the_kernels_from_the_cache(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}  # a cache of its own, empty
    env.pop("DETENTE_NO_NUMBA", None)
    # every kernel compiled from nothing (minutes of CPU on a loaded machine): the limit is a hang guard, so wide
    warm = subprocess.run([sys.executable, "-m", "detente", "warmup"], env=env, capture_output=True, text=True, timeout=1800)
    assert warm.returncode == 0, warm.stderr
    assert list(tmp_path.rglob("*.nbc")) and list(tmp_path.rglob("_bdm_kernel.sha256"))
    proc = subprocess.run([sys.executable, "-c", (
        "import detente\n"
        "from detente.models import bdm, _bdm_kernel as k\n"
        "bdm.PURE_MAX_WORK = -1\n"
        "detente.monte_carlo('korea-2019', model='bdm', draws=20, seed=0)\n"
        "detente.forecast('korea-2019', model='bdm')\n"
        "print(sum(k.run_rows.stats.cache_hits.values()), len(k.run_rows.stats.cache_misses))\n"
    )], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "0"]  # loaded once from the cache, nothing compiled


def test_detente_warmup_command(capsys):
    from detente.cli import main

    assert main(["warmup"]) == 0
    assert "compiled the kernels of bdm, smp, exchange into numba's cache" in capsys.readouterr().out


def test_detente_warmup_without_numba():
    proc = subprocess.run([sys.executable, "-m", "detente", "warmup"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DETENTE_NO_NUMBA": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "DETENTE_NO_NUMBA is set: nothing to compile" in proc.stdout


class _FakeKernel:
    def __init__(self, folder):
        self._cache = types.SimpleNamespace(_cache_path=str(folder))


def test_guard_cache_drops_entries_when_the_source_content_changes(tmp_path):
    src = tmp_path / "_kern.py"
    src.write_text("X = 1\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    entries = [cache / "_kern.f-3.py311.nbi", cache / "_kern.f-3.py311.1.nbc"]
    other = cache / "_other.f-3.py311.nbi"  # another module's entry stays
    for f in (*entries, other):
        f.write_text("machine code")

    _jit.guard_cache(str(src), _FakeKernel(cache))  # no stamp yet: unknown provenance, dropped
    assert not any(f.exists() for f in entries) and other.exists()

    for f in entries:
        f.write_text("machine code")
    _jit.guard_cache(str(src), _FakeKernel(cache))  # same content: kept
    assert all(f.exists() for f in entries)

    src.write_text("X = 2\n")  # same size, new content (numba's own stamp would miss this)
    _jit.guard_cache(str(src), _FakeKernel(cache))
    assert not any(f.exists() for f in entries)


def test_guard_cache_drops_entries_when_a_module_of_constants_changes(tmp_path):
    # the bdm kernel takes its tolerances from bdm_reference: numba freezes them into the machine
    # code but only watches the kernel's own file, so the guard hashes the reference too
    src, consts = tmp_path / "_kern.py", tmp_path / "consts.py"
    src.write_text("from consts import TOL\n")
    consts.write_text("TOL = 1e-12\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    entry = cache / "_kern.f-3.py311.1.nbc"
    _jit.guard_cache(str(src), _FakeKernel(cache), str(consts))
    entry.write_text("machine code")
    _jit.guard_cache(str(src), _FakeKernel(cache), str(consts))
    assert entry.exists()
    consts.write_text("TOL = 1e-11\n")  # the kernel's file is unchanged
    _jit.guard_cache(str(src), _FakeKernel(cache), str(consts))
    assert not entry.exists()


def test_the_bdm_kernel_guards_its_cache_with_the_reference_constants():
    import inspect

    from detente.models import _bdm_kernel, bdm_reference

    for name in ("NONE", "CONFRONTATION", "COMPROMISE", "CAPITULATION", "STATE_TOL", "RISK_TOL", "TIE_TOL",
                 "CHOICE_TOL", "COINCIDE_TOL", "MEDIAN_TOL"):
        assert not re.search(rf"^{name}\s*=", inspect.getsource(_bdm_kernel), re.M), f"{name} defined in the kernel again"
        assert getattr(_bdm_kernel, name) is getattr(bdm_reference, name)
    assert "guard_cache(__file__, run_rows, _reference.__file__)" in inspect.getsource(_bdm_kernel)


# ---------------------------------------------------------------------------
# lazy imports and missing extras
# ---------------------------------------------------------------------------


def test_import_detente_loads_no_optional_library():
    names = ", ".join(repr(m) for m in OPTIONAL)
    proc = _run(
        "import sys, detente\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in ({names})))\n"
        "detente.forecast('korea-2019', model='bdm'); detente.forecast('korea-2019', model='compromise')\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules if m.split('.')[0] in ({names})}}))\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[]", "[]"]


def test_public_names_resolve_lazily():
    assert set(detente.__all__) == {"__version__", *detente._LAZY}
    for name in detente.__all__:
        assert getattr(detente, name) is not None
    assert set(detente.__all__) <= set(dir(detente))
    from detente.analysis import monte_carlo
    from detente.api import forecast

    assert detente.forecast is forecast and detente.monte_carlo is monte_carlo
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        detente.nope  # noqa: B018


def test_a_missing_optional_library_names_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now fails as if not installed
    result = detente.forecast("korea-2019", model="compromise")
    with pytest.raises(MissingExtraError, match=r"pip install 'detente\[analysis\]'"):
        result.to_frame()
    assert missing_extra(ImportError("x", name="numpy")) is None  # a core library is not an extra's


@pytest.mark.parametrize(
    "blocked, argv, extra",
    [("typer", ["--help"], "cli"), ("rich", ["models"], "cli"), ("pandas", ["forecast", "-f", "csv"], "analysis"),
     # the report's own charts are SVG written without matplotlib: its PNG files need it
     ("matplotlib", ["report", "-o", "/dev/null", "--png", "{tmp}"], "report"),
     ("uvicorn", ["serve", "--port", "1"], "web")],
)
def test_the_command_line_names_the_missing_extra(blocked, argv, extra, tmp_path):
    argv = [a.format(tmp=tmp_path) for a in argv]
    proc = _run(f"import sys; sys.modules[{blocked!r}] = None\nfrom detente.__main__ import main\nsys.exit(main({argv!r}))")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"pip install 'detente[{extra}]'" in proc.stderr.replace("\n", " ")
    assert "Traceback" not in proc.stderr
