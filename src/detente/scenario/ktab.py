"""Import KTAB scenario files (CSV and XML) as raw detente scenario dicts.

KTAB (the KAPSARC Toolkit for Behavioral Analysis, MIT licence) stores a
Spatial Model of Politics scenario either as CSV::

    <name>, <description>, <#actors>, <#dimensions>[, ...]
    Actor, Description, Power, <dim 1 position>, <dim 1 salience>, ...
    <actor>, <description>, <capability>, <position>, <salience>, ...

or as XML (``smpSchema.xsd``), which also carries the model parameters, a
random seed and an ``IdealAdjustment`` (accommodation) list. Both become the
raw scenario dict a YAML scenario file parses to: issues on a 0-100 scale,
saliences on a 0-100 scale (``salience_scale: 100``), and, for XML,
``model: {name: smp, params: {...}, seed: ...}``.

The readers are tolerant where KTAB is (trailing commas and blanks, a UTF-8
byte-order mark, CRLF line ends, the enum spellings of both KTAB's code and
its XSD: ``None``/``No``, ``Prop``/``Proportional``), and report everything
else as :class:`~detente.errors.ScenarioError` with file, line and field.
"""

from __future__ import annotations

import csv
import io
import re
import xml.sax
import xml.sax.handler
import xml.sax.xmlreader
from pathlib import Path
from typing import Any

import defusedxml
import defusedxml.sax

from .._parse import Refused, bounded, limit, over_limit, parse_number, read_text, short, slug, table_rows
from ..errors import Problem, ScenarioError

__all__ = ["read_ktab_csv", "read_ktab_xml", "looks_like_ktab_csv"]

_PARAMS = {
    # KTAB XML element -> (Params field, {accepted spelling (lower) -> value})
    "VictoryProbModel": ("victory_prob_model", {v.lower(): v for v in ("Linear", "Square", "Quartic", "Octic", "Binary")}),
    "PCEModel": ("pce_model", {v.lower(): v for v in ("Conditional", "MarkovIncentive", "MarkovUniform")}),
    "StateTransitions": ("state_transitions", {v.lower(): v for v in ("Deterministic", "Stochastic")}),
    "VotingRule": ("voting_rule", {**{v.lower(): v for v in ("Prop", "Binary", "PropBin", "PropCbc", "Cubic", "ASymProsp")},
                                   "proportional": "Prop"}),
    "BigRAdjust": ("big_r_adjust", {**{v.lower(): v for v in ("OneThird", "None", "Half", "TwoThirds", "Full")},
                                    "no": "None"}),
    "BigRRange": ("big_r_range", {v.lower(): v for v in ("Mid", "Min", "Max")}),
    "ThirdPartyCommit": ("third_party_commit", {v.lower(): v for v in ("SemiCommit", "NoCommit", "FullCommit")}),
    "InterVecBrgn": ("inter_vec_brgn", {v.lower(): v for v in ("S2P2", "S1P1", "S2PMax")}),
    "BargnModel": ("bargn_model", {"initonlyinterp": "InitOnlyInterp"}),
}


# ----------------------------------------------------------------------------- helpers


def _unique(base: str, used: set[str]) -> str:
    key, i = base, 2
    while key in used:
        key = f"{base}_{i}"
        i += 1
    used.add(key)
    return key


def _number(text: str | None, file: str, line: int | None, field: str, problems: list[Problem],
            *, positive: bool = False, lo: float | None = None, hi: float | None = None) -> float | None:
    v = parse_number(text, file, line, field, problems, missing="is empty; expected a number")
    if v is None:
        return None
    if positive and v <= 0:
        problems.append(Problem(file, line, field, f"must be > 0, got {v:g}"))
        return None
    if lo is not None and hi is not None and not lo <= v <= hi:
        problems.append(Problem(file, line, field, f"must be between {lo:g} and {hi:g}, got {v:g}"))
        return None
    return v


def _dim_name(header: str, i: int) -> str:
    h = header.strip()
    h2 = re.sub(r"\s*(position|pos|pstn)\s*$", "", h, flags=re.I).strip()
    return h2 or h or f"Dim {i + 1}"


def _build(name: str, description: str, dims: list[str], actors: list[dict[str, Any]]) -> dict[str, Any]:
    used: set[str] = set()
    ikeys = [_unique(slug(d, lower=True), used) for d in dims]
    issues = [{"key": k, "name": d, "scale": [0, 100]} for k, d in zip(ikeys, dims)]
    aused: set[str] = set()
    out = []
    for a in actors:
        key = _unique(slug(a["name"]), aused)
        out.append({
            "key": key,
            "name": a["name"],
            "notes": a["notes"],
            "capability": a["capability"],
            "positions": dict(zip(ikeys, a["positions"])),
            "salience": dict(zip(ikeys, a["salience"])),
        })
    return {"name": name, "description": description, "salience_scale": 100, "issues": issues, "actors": out}


# ----------------------------------------------------------------------------- CSV


def looks_like_ktab_csv(path: str | Path) -> bool:
    """Whether ``path`` looks like a KTAB SMP CSV file.

    Line 1 is ``name, description, #actors, #dimensions`` (two integers in the
    third and fourth cells); line 2 is a header starting with
    ``Actor,Description,Power`` (``Influence`` and ``Capability`` are accepted
    for ``Power``).
    """
    try:
        text = read_text(Path(path))
    except ScenarioError:
        return False
    lines = [ln for ln in text.split("\n")[:5] if ln.strip()]
    if len(lines) < 2:
        return False
    try:
        first = next(csv.reader([lines[0]], skipinitialspace=True))
        second = next(csv.reader([lines[1]], skipinitialspace=True))
    except (csv.Error, StopIteration):
        return False
    if len(first) < 4:
        return False
    try:
        int(first[2].strip())
        int(first[3].strip())
    except ValueError:
        return False
    head = [c.strip().lower() for c in second[:3]]
    return len(head) == 3 and head[0] == "actor" and head[1] == "description" and head[2] in (
        "power", "influence", "capability")


@bounded
def read_ktab_csv(path: str | Path) -> dict[str, Any]:
    """Read a KTAB SMP CSV file into a raw detente scenario dict.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        ``{"name", "description", "salience_scale": 100, "issues", "actors"}``;
        each actor keeps its KTAB name as ``name`` and its description as
        ``notes``.

    Raises
    ------
    ScenarioError
        Listing every problem found (file, line, field, reason).
    """
    p = Path(path)
    file = str(p)
    rows = table_rows(read_text(p), skipinitialspace=True, file=file)
    problems: list[Problem] = []
    if len(rows) < 2:
        raise ScenarioError([Problem(file, 1, "", "a KTAB CSV file needs a title line and a header line")])
    (l1, first), (l2, header) = rows[0], rows[1]
    if len(first) < 4:
        raise ScenarioError([Problem(file, l1, "", "line 1 must be: scenario name, description, number of actors, number of dimensions")])
    name, desc = first[0], first[1]
    n_act = n_dim = None
    try:
        n_act = int(first[2])
        if n_act < 1:
            raise ValueError
    except ValueError:
        problems.append(Problem(file, l1, "number of actors", f"expected a positive whole number, got {short(first[2])}"))
    try:
        n_dim = int(first[3])
        if n_dim < 1:
            raise ValueError
    except ValueError:
        problems.append(Problem(file, l1, "number of dimensions", f"expected a positive whole number, got {short(first[3])}"))
    if n_act is not None and n_act > limit("max_actors"):
        problems.append(Problem(file, l1, "number of actors", over_limit("max_actors", f"{n_act} actors")))
    if n_dim is not None and n_dim > limit("max_issues"):
        problems.append(Problem(file, l1, "number of dimensions", over_limit("max_issues", f"{n_dim} dimensions")))
    if problems:
        raise ScenarioError(problems)
    assert n_act is not None and n_dim is not None
    head = [c.lower() for c in header[:3]]
    if len(head) < 3 or head[0] != "actor" or head[1] != "description":
        raise ScenarioError([Problem(file, l2, "header", "line 2 must start with Actor,Description,Power")])
    if len(header) < 3 + 2 * n_dim:
        raise ScenarioError([Problem(file, l2, "header",
                                     f"{n_dim} dimensions need {3 + 2 * n_dim} columns "
                                     f"(a position and a salience per dimension), found {len(header)}")])
    dims = [_dim_name(header[3 + 2 * k], k) for k in range(n_dim)]
    body = rows[2:]
    if len(body) != n_act:
        problems.append(Problem(file, l1, "number of actors",
                                f"line 1 says {n_act} actors but the file has {len(body)} actor rows"))
    actors = []
    seen: dict[str, int] = {}
    for line, cells in body:
        if len(cells) < 3 + 2 * n_dim:
            problems.append(Problem(file, line, "", f"expected {3 + 2 * n_dim} values (name, description, "
                                    f"capability, then position and salience for {n_dim} dimensions), found {len(cells)}"))
            continue
        aname = cells[0]
        if not aname:
            problems.append(Problem(file, line, "Actor", "the actor name is empty"))
            continue
        if aname in seen:
            problems.append(Problem(file, line, "Actor", f"actor {aname!r} already given on line {seen[aname]}"))
            continue
        seen[aname] = line
        cap = _number(cells[2], file, line, f"actors[{aname}].capability", problems, positive=True)
        pos, sal = [], []
        for k in range(n_dim):
            pos.append(_number(cells[3 + 2 * k], file, line, f"actors[{aname}].positions[{dims[k]}]", problems,
                               lo=0, hi=100))
            sal.append(_number(cells[4 + 2 * k], file, line, f"actors[{aname}].salience[{dims[k]}]", problems,
                               lo=0, hi=100))
        actors.append({"name": aname, "notes": cells[1], "capability": cap, "positions": pos, "salience": sal})
    if problems:
        raise ScenarioError(problems)
    return _build(name, desc, dims, actors)


# ----------------------------------------------------------------------------- XML


class _El:
    __slots__ = ("tag", "line", "parts", "text", "children")

    def __init__(self, tag: str, line: int):
        self.tag, self.line, self.text = tag, line, ""
        self.parts: list[str] = []
        self.children: list[_El] = []

    def find(self, tag: str) -> "_El | None":
        for c in self.children:
            if c.tag == tag:
                return c
        return None

    def findall(self, tag: str) -> list["_El"]:
        return [c for c in self.children if c.tag == tag]


class _Tree(xml.sax.handler.ContentHandler):
    """Builds the element tree with each element's line, within ``max_depth``/``max_nodes``/``max_field_chars``.

    Text arrives in pieces; they are collected in a list and joined once at the
    element's end (never concatenated piece by piece, which is quadratic).
    """

    def __init__(self) -> None:
        super().__init__()
        self.root = _El("#doc", 1)
        self.stack = [self.root]
        self.count = 0
        self.chars = 0
        self.locator: Any = None
        self.max_depth, self.max_nodes = limit("max_depth"), limit("max_nodes")
        self.max_chars = limit("max_field_chars")

    def setDocumentLocator(self, locator: Any) -> None:
        self.locator = locator

    def _line(self) -> int | None:
        return self.locator.getLineNumber() if self.locator is not None else None

    def startElement(self, name: str, attrs: Any) -> None:
        self.count += 1
        if self.count > self.max_nodes:
            raise Refused(self._line(), "", over_limit("max_nodes", "too many XML elements"))
        if len(self.stack) > self.max_depth:
            raise Refused(self._line(), "", over_limit("max_depth", "XML elements nested too deeply"))
        el = _El(name.split(":")[-1], self._line() or 1)
        self.stack[-1].children.append(el)
        self.stack.append(el)
        self.chars = 0

    def endElement(self, name: str) -> None:
        el = self.stack.pop()
        el.text = "".join(el.parts)
        el.parts = []
        self.chars = 0

    def characters(self, content: str) -> None:
        self.chars += len(content)
        if self.chars > self.max_chars:
            raise Refused(self._line(), "", over_limit("max_field_chars", "an XML element's text is too long"))
        self.stack[-1].parts.append(content)


def _parse_xml(text: str, file: str) -> _El:
    """The document's root element, parsed with defusedxml: entity declarations, DTDs that
    load other files and external references are refused (no entity bomb, no file read)."""
    tree = _Tree()
    try:
        parser = defusedxml.sax.make_parser()
        parser.forbid_dtd, parser.forbid_entities, parser.forbid_external = False, True, True
        parser.setContentHandler(tree)
        source = xml.sax.xmlreader.InputSource(file)
        source.setCharacterStream(io.StringIO(text.lstrip("\ufeff")))  # already decoded: the text decides, not a declaration
        parser.parse(source)
    except Refused as r:
        raise ScenarioError([r.problem(file)]) from None
    except defusedxml.EntitiesForbidden:
        raise ScenarioError([Problem(file, tree._line(), "", "the file declares XML entities (<!ENTITY>), which detente "
                                     "does not read: entity expansion can exhaust memory")]) from None
    except defusedxml.DefusedXmlException as e:
        raise ScenarioError([Problem(file, tree._line(), "", f"refused XML: {type(e).__name__} (external "
                                     "references are not read)")]) from None
    except xml.sax.SAXParseException as e:
        raise ScenarioError([Problem(file, e.getLineNumber(), "", f"not well-formed XML: {e.getMessage()}")]) from None
    except xml.sax.SAXException as e:
        raise ScenarioError([Problem(file, tree._line(), "", f"not well-formed XML: {e.getMessage()}")]) from None
    root = tree.root
    if not root.children:
        raise ScenarioError([Problem(file, 1, "", "no XML element found")])
    return root.children[0]


def _txt(el: _El | None) -> str:
    return "" if el is None else el.text.strip()


@bounded
def read_ktab_xml(path: str | Path) -> dict[str, Any]:
    """Read a KTAB SMP XML scenario (``smpSchema.xsd``) into a raw detente scenario dict.

    Besides issues and actors, the dict carries ``model: {"name": "smp",
    "params": {...}, "seed": int}`` with the file's model parameters (as
    :class:`detente.models.smp.Params` field names, spellings normalised), its
    ``prngSeed`` and, when an ``IdealAdjustment`` list is given, the
    ``accommodation`` matrix (identity, overridden by each ``iaPair``, as KTAB
    does).

    An empty position coordinate is read as 0, like KTAB does, and noted in
    the actor's ``notes``.

    Raises
    ------
    ScenarioError
        Listing every problem found (file, line, field, reason).
    """
    p = Path(path)
    file = str(p)
    root = _parse_xml(read_text(p), file)
    problems: list[Problem] = []
    if root.tag != "Scenario":
        raise ScenarioError([Problem(file, root.line, root.tag, "the root element of a KTAB scenario must be <Scenario>")])
    name = _txt(root.find("name")) or p.stem
    desc = _txt(root.find("desc"))
    model: dict[str, Any] = {"name": "smp", "params": {}}
    seed_el = root.find("prngSeed")
    if seed_el is not None and _txt(seed_el):
        try:
            seed = int(_txt(seed_el))
            if not 0 <= seed < 2**64:
                raise ValueError
            model["seed"] = seed
        except ValueError:
            problems.append(Problem(file, seed_el.line, "prngSeed",
                                    f"expected a whole number 0 <= seed < 2^64, got {short(_txt(seed_el))}"))
    mp = root.find("ModelParameters")
    if mp is not None:
        for el in mp.children:
            if el.tag not in _PARAMS:
                problems.append(Problem(file, el.line, f"ModelParameters.{el.tag}", "unknown KTAB model parameter"))
                continue
            field, spell = _PARAMS[el.tag]
            v = spell.get(_txt(el).lower())
            if v is None:
                allowed = sorted(set(spell.values()))
                problems.append(Problem(file, el.line, f"ModelParameters.{el.tag}",
                                        f"{short(_txt(el))} is not one of {', '.join(allowed)}"))
                continue
            model["params"][field] = v
    dims_el = root.find("Dimensions")
    dims = [] if dims_el is None else [_txt(d) or f"Dim {i + 1}" for i, d in enumerate(dims_el.findall("dName"))]
    if not dims:
        problems.append(Problem(file, root.line if dims_el is None else dims_el.line, "Dimensions",
                                "no <dName> dimension given"))
    acts_el = root.find("Actors")
    actor_els = [] if acts_el is None else acts_el.findall("Actor")
    if not actor_els:
        problems.append(Problem(file, root.line if acts_el is None else acts_el.line, "Actors", "no <Actor> given"))
    if len(dims) > limit("max_issues"):
        raise ScenarioError([Problem(file, dims_el.line if dims_el is not None else None, "Dimensions",
                                     over_limit("max_issues", f"{len(dims)} dimensions"))])
    if len(actor_els) > limit("max_actors"):
        raise ScenarioError([Problem(file, acts_el.line if acts_el is not None else None, "Actors",
                                     over_limit("max_actors", f"{len(actor_els)} actors"))])
    D = len(dims)
    actors: list[dict[str, Any]] = []
    names: dict[str, int] = {}
    for ai, ael in enumerate(actor_els):
        aname = _txt(ael.find("name"))
        where = f"actors[{aname or ai + 1}]"
        if not aname:
            problems.append(Problem(file, ael.line, f"{where}.name", "the actor has no name"))
            continue
        if aname in names:
            problems.append(Problem(file, ael.line, f"{where}.name", f"actor {aname!r} is given twice"))
            continue
        names[aname] = len(actors)
        cap_el = ael.find("capability")
        cap = _number(_txt(cap_el), file, (cap_el or ael).line, f"{where}.capability", problems, positive=True)
        notes = _txt(ael.find("description"))
        pos_el, sal_el = ael.find("Position"), ael.find("Salience")
        coords = [] if pos_el is None else pos_el.findall("dCoord")
        sals = [] if sal_el is None else sal_el.findall("dSal")
        if len(coords) != D:
            problems.append(Problem(file, (pos_el or ael).line, f"{where}.Position",
                                    f"{len(coords)} <dCoord> given for {D} dimensions"))
        if len(sals) != D:
            problems.append(Problem(file, (sal_el or ael).line, f"{where}.Salience",
                                    f"{len(sals)} <dSal> given for {D} dimensions"))
        pos: list[float | None] = []
        sal: list[float | None] = []
        empty: list[str] = []
        for k in range(min(D, len(coords))):
            if _txt(coords[k]) == "":
                pos.append(0.0)
                empty.append(dims[k])
            else:
                pos.append(_number(_txt(coords[k]), file, coords[k].line, f"{where}.positions[{dims[k]}]", problems,
                                   lo=0, hi=100))
        for k in range(min(D, len(sals))):
            sal.append(_number(_txt(sals[k]), file, sals[k].line, f"{where}.salience[{dims[k]}]", problems, lo=0, hi=100))
        if empty:
            note = f"KTAB file gives no position on {', '.join(empty)}; read as 0 like KTAB"
            notes = f"{notes} ({note})" if notes else note
        actors.append({"name": aname, "notes": notes, "capability": cap, "positions": pos, "salience": sal})
    ia = root.find("IdealAdjustment")
    if ia is not None and not problems:
        n = len(actors)
        A = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
        for pe in ia.findall("iaPair"):
            a_el, r_el, v_el = pe.find("adjustingIdeal"), pe.find("referencePos"), pe.find("adjust")
            ok = True
            for ref_el, what in ((a_el, "adjustingIdeal"), (r_el, "referencePos")):
                if ref_el is None or _txt(ref_el) not in names:
                    problems.append(Problem(file, (ref_el or pe).line, f"IdealAdjustment.{what}",
                                            f"unknown actor {short(_txt(ref_el))}"))
                    ok = False
            adjust = _number(_txt(v_el), file, (v_el or pe).line, "IdealAdjustment.adjust", problems, lo=0, hi=1)
            if ok and adjust is not None:
                A[names[_txt(a_el)]][names[_txt(r_el)]] = adjust
        for i, row in enumerate(A):
            if sum(row) > 1 + 1e-9:
                problems.append(Problem(file, ia.line, "IdealAdjustment",
                                        f"the adjustments of {actors[i]['name']!r} sum to {sum(row):g} (must be <= 1)"))
        model["params"]["accommodation"] = A
    if problems:
        raise ScenarioError(problems)
    raw = _build(name, desc, dims, actors)
    raw["model"] = model
    return raw
