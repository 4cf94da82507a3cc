"""The layers of docs/architecture.md, enforced on the source (issue #11).

Every module under ``src/detente`` is parsed with :mod:`ast`; every import, at any depth (inside
functions too), is an edge. An edge may only point to the same layer or a lower one, never to the
package root, and the edges may not close a cycle. Above ``models/`` no module names a particular
model: no ``models.bdm`` import and no model name used to choose behaviour.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from detente.models.registry import _REGISTRY

SRC = Path(__file__).resolve().parents[1] / "src" / "detente"

# (layer, rank) from the bottom up; a module may import its own layer or lower ranks only.
# Within a rank, layers listed in SIBLINGS may not import each other.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("detente._version", "detente._parse", "detente._cancel", "detente._extras", "detente.errors",
              "detente.serialize", "detente._xlsx", "detente.numfmt")),
    ("models", ("detente.models",)),
    ("scenario", ("detente.scenario",)),
    ("engine", ("detente.engine", "detente.simulate", "detente.result", "detente.budget", "detente.api",
                "detente.calibrate", "detente.stability", "detente.executor")),
    ("analysis", ("detente.analysis",)),
    ("backtest", ("detente.backtest",)),
    ("presentation", ("detente.report",)),
    ("web", ("detente.web",)),
    ("cli", ("detente.cli",)),
    ("entry", ("detente.__main__",)),
]
RANK = {"base": 0, "models": 1, "scenario": 2, "engine": 3, "analysis": 4, "backtest": 4, "presentation": 5,
        "web": 6, "cli": 7, "entry": 8}
# the package root (detente/__init__.py) is the public facade: it sits above everything and nothing imports it

# Temporary exceptions to the layering, each naming its issue. Keep this empty when you can.
ALLOWED_EDGES: dict[tuple[str, str], str] = {}

MODEL_NAMES = frozenset(_REGISTRY)

# Where a registered model's name is data, not a choice of behaviour: (module, name) -> why.
NAME_ALLOWED: dict[tuple[str, str], str] = {
    # the one which-model rule's documented fallback is models.DEFAULT_MODEL (inside models/); nothing here.
    # the published backtest table is scored against the compromise model by name (a column of the table)
    ("detente.backtest.result", "compromise"): "REFERENCE, the baseline column of the published table",
    # a KTAB file is a Spatial Model of Politics scenario by definition: the import records the file's own model
    ("detente.scenario.ktab", "smp"): "KTAB's format is SMP's input format",
}


def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for f in SRC.rglob("*.py"):
        parts = list(f.relative_to(SRC.parent).with_suffix("").parts)
        pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if pkg else parts)] = (f, pkg)
    return mods


MODULES = _modules()


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes inside ``if TYPE_CHECKING:`` blocks (never executed: annotations only)."""
    skip: set[int] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.If) and getattr(n.test, "id", getattr(n.test, "attr", None)) == "TYPE_CHECKING":
            for s in n.body:
                skip.update(id(x) for x in ast.walk(s))
    return skip


def _imports(name: str) -> list[tuple[int, str]]:
    """(line, module) for every import of a detente module in ``name``, at any depth."""
    f, is_pkg = MODULES[name]
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    tree = ast.parse(f.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    out: list[tuple[int, str]] = []
    for n in ast.walk(tree):
        if id(n) in skip:
            continue
        if isinstance(n, ast.Import):
            out += [(n.lineno, a.name) for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            base = ".".join(here[: len(here) - n.level + 1] + ([n.module] if n.module else [])) if n.level else n.module
            assert base is not None
            subs = [f"{base}.{a.name}" for a in n.names if f"{base}.{a.name}" in MODULES]
            out += [(n.lineno, s) for s in subs]
            if len(subs) < len(n.names):
                out.append((n.lineno, base))
    return [(line, m) for line, m in out if m == "detente" or m.startswith("detente.")]


def _layer(module: str) -> str | None:
    for layer, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return layer
    return None


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if m != "detente" and _layer(m) is None]
    assert not missing, f"modules in no layer of docs/architecture.md: {missing}"


def test_the_mapping_sees_imports_inside_functions():
    # detente.cli.forecast imports the api inside its command function only
    assert "detente.api" in {m for _, m in _imports("detente.cli.forecast")}


def test_a_layer_imports_only_layers_below_it():
    bad = []
    for mod in sorted(MODULES):
        if mod == "detente":
            continue
        src = _layer(mod)
        for line, target in _imports(mod):
            if (mod, target) in ALLOWED_EDGES:
                continue
            if target == "detente":
                bad.append(f"{mod}:{line} imports the package root (the public facade); import the module instead")
                continue
            dst = _layer(target)
            assert src is not None and dst is not None, (mod, target)
            if RANK[dst] > RANK[src] or (RANK[dst] == RANK[src] and dst != src):
                bad.append(f"{mod}:{line} ({src}) imports {target} ({dst})")
    assert not bad, "imports against the layers of docs/architecture.md:\n" + "\n".join(bad)


def test_no_import_cycles():
    graph = {m: {t for _, t in _imports(m) if t in MODULES and t != m and not t.startswith(m + ".")} for m in MODULES}
    # a package's __init__ importing its own submodules is the package's face, not a cycle, unless they import it back
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    allowed = {frozenset(e) for e in ALLOWED_EDGES}
    cycles = [c for c in cycles if not any(frozenset(e) <= set(c) for e in allowed)]
    assert not cycles, f"modules that import each other (directly or around a loop): {cycles}"


def _is_name(node: ast.AST) -> set[str]:
    """Model names held by a constant or a literal collection of constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in MODEL_NAMES:
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*(_is_name(e) for e in node.elts)) if node.elts else set()
    return set()


# "mean" and "median" name models and also statistics (a summary's columns, a table's header): as a
# statistic they are no choice of model, so they count only where the code around them speaks of a model.
STATISTICS = frozenset({"mean", "median"})


def _speaks_of_models(node: ast.AST) -> bool:
    return "model" in ast.unparse(node).lower()


def _name_choices(tree: ast.AST) -> list[tuple[int, str, str]]:
    """(line, name, how) wherever a model name chooses behaviour."""
    found: list[tuple[int, str, str]] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Compare):
            others = [x for x in [n.left, *n.comparators] if not _is_name(x)]
            modelish = any(_speaks_of_models(x) for x in others)
            for side in [n.left, *n.comparators]:
                found += [(n.lineno, x, "compared") for x in _is_name(side) if x not in STATISTICS or modelish]
        elif isinstance(n, ast.MatchValue):
            found += [(n.lineno, x, "matched") for x in _is_name(n.value)]
        elif isinstance(n, ast.Dict):
            for k in n.keys:
                if k is not None:
                    found += [(n.lineno, x, "a dict key") for x in _is_name(k) if x not in STATISTICS]
        elif isinstance(n, ast.keyword) and n.arg in ("model", "models"):
            found += [(n.value.lineno, x, f"passed as {n.arg}=") for x in _is_name(n.value)]
        elif isinstance(n, ast.Call) and n.args and getattr(n.func, "attr", getattr(n.func, "id", None)) in (
                "get", "register", "model_params", "make_params", "forecast", "monte_carlo", "resolve_model"):
            found += [(n.lineno, x, "passed to a model look-up") for x in _is_name(n.args[0])]
        elif isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None:
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            modelish = any(_speaks_of_models(t) for t in targets)
            found += [(n.lineno, x, "assigned") for x in _is_name(n.value) if x not in STATISTICS or modelish]
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = n.args.args[len(n.args.args) - len(n.args.defaults):] + n.args.kwonlyargs
            defaults = list(n.args.defaults) + list(n.args.kw_defaults)
            for a, d in zip(args, defaults):
                if d is not None:
                    found += [(d.lineno, x, f"the default of {a.arg}") for x in _is_name(d)]
    return found


def test_nothing_above_models_names_a_model():
    bad = []
    for mod, (f, _) in sorted(MODULES.items()):
        if mod == "detente.models" or mod.startswith("detente.models."):
            continue
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for line, target in _imports(mod):
            if target.startswith("detente.models.") and target.split(".")[2] in MODEL_NAMES:
                bad.append(f"{mod}:{line} imports the model module {target} (use the registry: models.get(name))")
        for line, name, how in _name_choices(tree):
            if (mod, name) not in NAME_ALLOWED:
                bad.append(f"{mod}:{line} the model name {name!r} is {how}")
    assert not bad, "above models/, a model is reached only through the registry:\n" + "\n".join(bad)


@pytest.mark.parametrize("code,expected", [
    ("if model == 'bdm':\n    pass\n", "compared"),
    ("x = {'smp': 1}\n", "a dict key"),
    ("def f(model='median'):\n    pass\n", "the default of model"),
    ("run(s, model='nash')\n", "passed as model="),
    ("if m in ('focal', 'x'):\n    pass\n", "compared"),
])
def test_the_name_check_catches(code, expected):
    assert [how for _, _, how in _name_choices(ast.parse(code))] == [expected]


def test_statistics_named_like_models_are_not_choices():
    # "mean" and "median" are models and also statistics: a column, a summary's key or a header is no choice
    code = "row['median'] + frame.agg(['mean'])\nq = {'median': 1, 'mean': 2}\nif c == 'median':\n    pass\n"
    assert _name_choices(ast.parse(code)) == []
    assert [how for _, _, how in _name_choices(ast.parse("if model.name == 'mean':\n    pass\n"))] == ["compared"]
