"""The YAML and JSON reader: a safe, bounded YAML loader that records the line of every value.

See docs/scenario-format.md (Limits) for the bounds it keeps.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
import yaml.composer
import yaml.constructor
import yaml.reader
import yaml.resolver

from .._parse import Refused, limit, over_limit, short, surrogate_at
from ..errors import Problem, ScenarioError
from .nodes import Node, NodeList

_INT_TAG = "tag:yaml.org,2002:int"

try:  # libyaml's event parser (shipped in PyYAML's wheels), with PyYAML's own composer on top
    from yaml._yaml import CParser as _CParser

    class _Base(yaml.composer.Composer, _CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """Events from libyaml (fast); nodes composed in Python (so that composing can be bounded)."""

        def __init__(self, stream: str):
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader  # type: ignore[misc,assignment]


class _Loader(_Base):
    """A safe YAML loader without YAML 1.1's yes/no/on/off booleans (``NO`` is Norway), within bounds.

    Composing counts nesting depth (``max_depth``), values (``max_nodes``) and
    aliases (``max_aliases``); building the Python value (:func:`_to_python`)
    counts values again with aliases expanded, so an alias bomb ("billion
    laughs") is refused after a bounded amount of work.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0
        self.aliases = 0
        self.nodes = 0
        self.max_depth = limit("max_depth")
        self.max_nodes = limit("max_nodes")
        self.max_aliases = limit("max_aliases")
        self.max_int_digits = limit("max_int_digits")
        self.max_field_chars = limit("max_field_chars")

    def _event_line(self) -> int | None:
        ev = self.peek_event()
        mark = getattr(ev, "start_mark", None)
        return None if mark is None else mark.line + 1

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.max_aliases:
                raise Refused(self._event_line(), "", over_limit("max_aliases"))
        else:
            self.nodes += 1
            if self.nodes > self.max_nodes:
                raise Refused(self._event_line(), "", over_limit("max_nodes"))
        self.depth += 1
        try:
            if self.depth > self.max_depth:
                raise Refused(self._event_line(), "", over_limit("max_depth", "nested too deeply"))
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _scalar(node: yaml.ScalarNode, loader: _Loader) -> Any:
    value = node.value
    if len(value) > loader.max_field_chars:
        raise Refused(node.start_mark.line + 1, "", over_limit("max_field_chars", f"a value has {len(value)} characters"))
    if node.tag == _INT_TAG and len(value) > loader.max_int_digits and sum(c.isdigit() for c in value) > loader.max_int_digits:
        raise Refused(node.start_mark.line + 1, "", over_limit("max_int_digits", "a whole number is too long"))
    if node.style == '"' and surrogate_at(value) is not None:
        raise Refused(node.start_mark.line + 1, "", "not text: a lone surrogate (an escape like \\ud800 that is no character)")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        raise
    except (ValueError, OverflowError, TypeError) as e:  # e.g. a date 2019-02-30
        raise Refused(node.start_mark.line + 1, "", f"not a valid value {short(value)}: {e}") from None


def _to_python(node: yaml.Node, loader: _Loader, file: str | None, depth: int = 1) -> Any:
    loader.nodes += 1  # counted again, now with aliases expanded
    if loader.nodes > loader.max_nodes:
        raise Refused(node.start_mark.line + 1, "", over_limit("max_nodes", "the document expands to too many values (YAML aliases)"))
    if depth > loader.max_depth:
        raise Refused(node.start_mark.line + 1, "", over_limit("max_depth", "nested too deeply (YAML aliases)"))
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, loader)
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = Node(origin=(file, line))
        locs = out.locs
        for k_node, v_node in node.value:
            kline = k_node.start_mark.line + 1
            if not isinstance(k_node, yaml.ScalarNode):
                raise Refused(kline, "", "a key must be plain text or a number, not a list or a mapping (a complex YAML key)")
            key = _scalar(k_node, loader)
            if key in out:
                raise Refused(kline, str(key), "duplicate key in the same mapping")
            out[key] = _to_python(v_node, loader, file, depth + 1)
            locs[key] = (file, kline)
        return out
    if isinstance(node, yaml.SequenceNode):
        lst = NodeList(origin=(file, line))
        locs = lst.locs
        for i, item in enumerate(node.value):
            lst.append(_to_python(item, loader, file, depth + 1))
            locs[i] = (file, item.start_mark.line + 1)
        return lst
    return loader.construct_object(node, deep=True)  # pragma: no cover - every node is one of the above


def parse_yaml(text: str, file: str | None) -> Any:
    if "\x00" in text:
        raise ScenarioError([Problem(file, None, "", "not a text file (it contains NUL bytes)")])
    try:
        loader = _Loader(text)
    except (yaml.YAMLError, UnicodeError) as e:
        raise ScenarioError([Problem(file, None, "", f"not valid YAML: {e}")]) from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        loader.nodes = 0
        return _to_python(root, loader, file)
    except Refused as r:
        raise ScenarioError([r.problem(file)]) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        if "nesting depth" in str(e.problem):  # libyaml's own bound (1000 levels) met before ours
            raise ScenarioError([Problem(file, line, "", over_limit("max_depth", "nested too deeply"))]) from None
        raise ScenarioError([Problem(file, line, "", f"not valid YAML: {e.problem or e}")]) from None
    except yaml.reader.ReaderError as e:
        pos = e.position if isinstance(e.position, int) else 0
        line = text.encode("utf-8", "surrogatepass")[:pos].count(b"\n") + 1
        what = f"character {e.character!r}" if isinstance(e.character, str) else f"character #x{e.character:04x}"
        raise ScenarioError([Problem(file, line, "", f"not valid YAML: {what} is not allowed ({e.reason})")]) from None
    except (yaml.YAMLError, UnicodeError) as e:
        raise ScenarioError([Problem(file, None, "", f"not valid YAML: {e}")]) from None
    except RecursionError:  # pragma: no cover - max_depth stops nesting long before
        raise ScenarioError([Problem(file, None, "", over_limit("max_depth", "nested too deeply"))]) from None
    finally:
        loader.dispose()


def _json_int(text: str) -> int:
    if len(text) > limit("max_int_digits") and sum(c.isdigit() for c in text) > limit("max_int_digits"):
        raise Refused(None, "", over_limit("max_int_digits", "a whole number is too long"))
    return int(text)


def parse_json(text: str, file: str | None) -> Any:
    try:
        json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as e:
        raise ScenarioError([Problem(file, e.lineno, "", f"not valid JSON: {e.msg} (column {e.colno})")]) from None
    except (Refused, RecursionError):
        pass  # a bound: the YAML reader below finds the same bound and names its line
    # JSON is YAML: parse again to learn the line of every value.
    return parse_yaml(text, file)
