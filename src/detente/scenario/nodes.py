"""Raw scenario values that remember where they were written (file, line).

Every reader (YAML/JSON, CSV tables, KTAB, Decide, a dict given directly) gives
a tree of :class:`Node` and :class:`NodeList`, so that validation can name the
file and line of each problem, also after a variant has been merged over its base.
"""

from __future__ import annotations

from typing import Any

from .._parse import limit, over_limit, short, surrogate_at
from ..errors import Problem, ScenarioError

Loc = tuple[str | None, int | None]


class Node(dict):
    """A dict that remembers where each of its keys was written (file, line)."""

    def __init__(self, *a: Any, origin: Loc = (None, None), **kw: Any):
        super().__init__(*a, **kw)
        self.origin: Loc = origin
        self.locs: dict[Any, Loc] = {}


class NodeList(list):
    """A list that remembers where each of its items was written (file, line)."""

    def __init__(self, *a: Any, origin: Loc = (None, None)):
        super().__init__(*a)
        self.origin: Loc = origin
        self.locs: dict[int, Loc] = {}



def as_node(obj: Any, file: str | None) -> Any:
    """Wrap what the KTAB/Decide readers give (plain dicts and lists, already bounded) as located nodes."""
    if isinstance(obj, Node | NodeList):
        return obj
    if isinstance(obj, dict):
        n = Node({k: as_node(v, file) for k, v in obj.items()}, origin=(file, None))
        n.locs = {k: (file, None) for k in obj}
        return n
    if isinstance(obj, list):
        lst = NodeList([as_node(v, file) for v in obj], origin=(file, None))
        lst.locs = {i: (file, None) for i in range(len(obj))}
        return lst
    return obj


def checked_node(obj: Any, file: str | None, _path: tuple = (), _count: list | None = None) -> Any:
    """Wrap a scenario dict given directly (from a web request or the Python API) as located nodes.

    Bounded like a YAML document (``max_depth``, ``max_nodes``, ``max_field_chars``,
    ``max_int_digits``); text that is not text (lone surrogates) is refused.
    """
    if _count is None:
        _count = [0, limit("max_nodes"), limit("max_depth"), limit("max_field_chars"), limit("max_int_digits")]
    _count[0] += 1
    if _count[0] > _count[1]:
        raise ScenarioError([Problem(file, None, _label(_path), over_limit("max_nodes"))])
    if len(_path) >= _count[2]:
        raise ScenarioError([Problem(file, None, _label(_path), over_limit("max_depth", "nested too deeply"))])
    if isinstance(obj, Node | NodeList):
        return obj
    if isinstance(obj, dict):
        n = Node(origin=(file, None))
        for k, v in obj.items():
            _check_atom(k, file, _path + (k,), _count)
            n[k] = checked_node(v, file, _path + (k,), _count)
            n.locs[k] = (file, None)
        return n
    if isinstance(obj, list | tuple):
        lst = NodeList([checked_node(v, file, _path + (i,), _count) for i, v in enumerate(obj)], origin=(file, None))
        lst.locs = {i: (file, None) for i in range(len(obj))}
        return lst
    _check_atom(obj, file, _path, _count)
    return obj


def _check_atom(x: Any, file: str | None, path: tuple, count: list) -> None:
    if isinstance(x, str):
        if len(x) > count[3]:
            raise ScenarioError([Problem(file, None, _label(path), over_limit("max_field_chars", f"a value has {len(x)} characters"))])
        if surrogate_at(x) is not None:
            raise ScenarioError([Problem(file, None, _label(path), "not text: it holds a lone surrogate (no character)")])
    elif isinstance(x, int) and not isinstance(x, bool) and x.bit_length() > 3.33 * count[4]:
        raise ScenarioError([Problem(file, None, _label(path), over_limit("max_int_digits", "a whole number is too long"))])


def _label(path: tuple) -> str:
    out = ""
    for k in path:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    if surrogate_at(out) is not None:
        out = out.encode("utf-8", "backslashreplace").decode("utf-8")
    return short(out, 80)[1:-1] if len(out) > 80 else out
