"""Scenarios from requests: shipped examples, JSON dicts and uploaded files, sandboxed.

Input over the web is hostile until parsed: ``extends:`` may name only a
shipped scenario, never a path; a file's text is bounded and written to a
private temporary folder under a sanitised name; problems name the user's own
file (or a shipped file by its name), never a path of the server.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path
from typing import Any

from ..._parse import short
from ...errors import DetenteError, Problem
from ...serialize import jsonable
from ..schemas import ScenarioInput

#: The shipped scenario the browser UI opens first.
FLAGSHIP = "korea-2019"


#: The suffixes an uploaded file keeps: each picks its reader (:func:`detente.scenario.documents.read_document`).
SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".tsv", ".txt", ".xml", ".xlsx", ".xlsm")


def _safe_name(name: str | None, fmt: str) -> str:
    # at most 100 characters: the name becomes a file in a temporary folder (a file system allows 255 bytes)
    base = (re.sub(r"[^A-Za-z0-9_.\-]+", "_", Path(name or "").name).strip("._") or "scenario")[-100:].lstrip("._")
    if not base.lower().endswith(SUFFIXES):
        base += "." + fmt
    return base


def _fmt_of(inp: ScenarioInput) -> str:
    if inp.format:
        return inp.format
    suf = Path(inp.filename or "").suffix.lower()
    return {".json": "json", ".csv": "csv", ".txt": "csv", ".tsv": "csv"}.get(suf, "yaml")  # .txt/.tsv: Decide files


def _plain(x: Any) -> Any:
    """A raw scenario value as plain JSON: non-finite numbers become null, dates text, lone surrogates escapes."""
    if isinstance(x, dict):
        return {_plain_key(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, str):
        return x.encode("utf-8", "backslashreplace").decode("utf-8")
    if x is None or isinstance(x, int | float):
        return x
    return _plain(str(x))


def _plain_key(k: Any) -> str:
    if isinstance(k, bool) or k is None:
        return json.dumps(k)
    return _plain(k if isinstance(k, str) else str(k))


def _safe_raw(raw: Any) -> Any:
    """What a 422 may send back of the user's own input: plain JSON, and no colour that is not a colour
    (the browser UI shows an invalid upload in its editor)."""
    from ...scenario.schema import is_color

    out = _plain(raw)
    if isinstance(out, dict) and isinstance(out.get("actors"), list):
        for a in out["actors"]:
            if isinstance(a, dict) and "color" in a and not is_color(a["color"]):
                del a["color"]
    return out


def _public_problems(problems: list[Problem], path: Path | None, fname: str | None) -> list[Problem]:
    """Problems with every file named as the user knows it: their own file by its name, a shipped
    scenario by its file name, nothing of the server's paths."""
    from ...scenario.io import shipped_dir

    ships = shipped_dir().resolve()
    out = []
    for p in problems:
        f = p.file
        if f is not None:
            fp = Path(f)
            if path is not None and fp == path:
                f = fname
            elif fp.resolve().parent == ships:
                f = fp.name
            else:
                f = None
        out.append(Problem(f, p.line, p.field, p.reason))
    return out


def load_input(inp: ScenarioInput) -> tuple[Any, Any]:
    """The validated scenario of a request and the raw dict it came from.

    Input over the web is sandboxed: ``extends:`` may name only a shipped
    scenario, never a path; problems name the user's own file (or a shipped
    file by its name), never a path of the server.

    Raises
    ------
    DetenteError
        With ``.raw`` (the user's own unvalidated content, when it could be
        parsed; never a base file's) and ``.targets`` (for each problem, the
        table cell it names).
    """
    from ..._parse import check_text, suggest
    from ...api import load
    from ...scenario.io import resolve_path, shipped

    given = [x for x in (inp.name, inp.scenario, inp.text) if x is not None]
    if len(given) != 1:
        raise DetenteError([Problem(None, None, "scenario", "give exactly one of `name`, `scenario` or `text`")])
    if inp.name is not None:
        names = {p.stem for p in shipped()}
        if inp.name not in names:
            near = suggest(inp.name, names)
            raise DetenteError([Problem(None, None, "name", f"no shipped scenario {short(inp.name)}"
                                        + (f"; did you mean `{near}`?" if near else "")
                                        + f" (available: {', '.join(sorted(names))})")])
        path = resolve_path(inp.name)
        return load(path), None
    if inp.scenario is not None:
        try:
            return load(inp.scenario), inp.scenario  # a dict may extend only a shipped scenario
        except DetenteError as e:
            err = DetenteError(_public_problems(e.problems, None, None))
            err.raw = _safe_raw(inp.scenario)  # type: ignore[attr-defined]
            err.targets = [_target(p, inp.scenario) for p in err.problems]  # type: ignore[attr-defined]
            raise err from None
    fname = _safe_name(inp.filename, _fmt_of(inp))
    check_text(inp.text or "", fname)
    return _load_file(fname, (inp.text or "").encode("utf-8"))


def load_upload(filename: str | None, data: bytes) -> tuple[Any, Any]:
    """An uploaded file's scenario and raw dict, as :func:`load_input`: its reader follows the file's
    suffix (YAML, JSON, a CSV or TSV stakeholder table, KTAB CSV or XML, a Decide file, a workbook when
    the scenario layer reads them), with that reader's bounds; a file without a known suffix is YAML."""
    return _load_file(_safe_name((filename or "")[-255:], "yaml"), data)


def _load_file(fname: str, data: bytes) -> tuple[Any, Any]:
    """A file's bytes read and validated in a private temporary folder, sandboxed (see :func:`load_input`)."""
    from ...scenario.io import read_document, resolve_extends
    from ...scenario.validate import validate as validate_raw

    with tempfile.TemporaryDirectory(prefix="detente-upload-") as tmp:
        path = Path(tmp) / fname
        path.write_bytes(data)
        own = None
        try:
            own = read_document(path)
            scen = validate_raw(resolve_extends(own, path, sandbox="shipped"), str(path))
        except DetenteError as e:
            probs = _public_problems(e.problems, path, fname)
            err = DetenteError(probs)
            err.raw = _safe_raw(own) if own is not None else None  # type: ignore[attr-defined]
            err.targets = [_target(p, own) if p.file == fname else None for p in probs]  # type: ignore[attr-defined]
            raise err from None
        return scen.with_changes(source_file=fname), _safe_raw(own)


_ACTOR_FIELD = re.compile(r"^actors\[(?P<key>[^\]]+)\]\.(?P<rest>capability|name|color|positions\.[^.]+|salience\.[^.]+)")
_ACTOR_AT = re.compile(r"^actors(\[(?P<i>\d+)\])?\.(?P<rest>capability|name|color|positions\.[^.]+|salience\.[^.]+|positions|salience)")


def _target(p: Problem, raw: Any) -> str | None:
    """The stakeholder-table cell a problem names, as ``actors[KEY].field``, or None."""
    m = _ACTOR_FIELD.match(p.field or "")
    if m:
        return f"actors[{m.group('key')}].{m.group('rest')}"
    m = _ACTOR_AT.match(p.field or "")
    if not m or not isinstance(raw, dict) or not isinstance(raw.get("actors"), list):
        return None
    actors = raw["actors"]
    idx = None
    if m.group("i") is not None:
        idx = int(m.group("i"))
    elif p.line is not None:
        locs = getattr(actors, "locs", {})
        starts = sorted((loc[1], i) for i, loc in locs.items() if loc and loc[1] is not None)
        for line, i in starts:
            if line <= p.line:
                idx = i
    if idx is None or idx >= len(actors) or not isinstance(actors[idx], dict):
        return None
    key = actors[idx].get("key")
    return f"actors[{key}].{m.group('rest')}" if key else None


def describe(scen: Any) -> dict[str, Any]:
    """A scenario's name and its counts of actors, issues and events."""
    return {"name": scen.name, "actors": len(scen.actors), "issues": len(scen.issues), "events": len(scen.events)}


def _answer(scen: Any) -> dict[str, Any]:
    # what is valid but probably not meant (an event after the last round), never a refusal
    warnings = [w.to_dict() for w in _public_problems(scen.warnings(), None, None)]
    return {"ok": True, **describe(scen), "warnings": warnings, "scenario": jsonable(scen.to_dict())}


def validated(inp: ScenarioInput) -> dict[str, Any]:
    """``{ok, name, actors, issues, events, scenario}`` for a valid scenario (else DetenteError)."""
    return _answer(load_input(inp)[0])


def validated_upload(filename: str | None, data: bytes) -> dict[str, Any]:
    """:func:`validated` for an uploaded file (:func:`load_upload`)."""
    return _answer(load_upload(filename, data)[0])


#: The formats a scenario downloads as (those of :func:`detente.scenario.writers.dump`): their media types.
EXPORTS = {"yaml": "application/yaml", "json": "application/json", "csv": "text/csv",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def export(inp: ScenarioInput, fmt: str) -> tuple[bytes, str, str]:
    """A valid scenario as a file, written by the scenario layer: ``(content, media type, file name)``
    (DetenteError when it is not valid or the format is unknown)."""
    from ...scenario import writers

    if fmt not in EXPORTS:
        raise DetenteError([Problem(None, None, "format", f"unknown format {short(fmt)}; one of {', '.join(EXPORTS)}")])
    scen, _ = load_input(inp)
    content = writers.dump(scen, fmt)
    stem = re.sub(r"[^A-Za-z0-9_.\-]+", "-", scen.name).strip("-.")[:80] or "scenario"
    return content, EXPORTS[fmt], f"{stem}.{fmt}"


def shipped_list() -> list[dict[str, Any]]:
    """The shipped example scenarios that load, with their titles and descriptions."""
    from ...api import load
    from ...scenario.io import shipped

    out = []
    for p in shipped():
        try:
            s = load(p)
        except DetenteError:
            continue
        out.append({**describe(s), "name": p.stem, "title": s.name, "file": p.name,
                    "description": s.description, "flagship": p.stem == FLAGSHIP})
    return out


def shipped_one(name: str) -> dict[str, Any] | None:
    """One shipped scenario: its file's text and its resolved content; None when there is none of that name."""
    from ...scenario.io import shipped

    for p in shipped():
        if p.stem == name:
            scen, _ = load_input(ScenarioInput(name=name))
            return {"name": name, "file": p.name, "text": p.read_text(encoding="utf-8"),
                    "scenario": jsonable(scen.to_dict())}
    return None
