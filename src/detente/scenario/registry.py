"""The example scenarios shipped inside the package."""

from __future__ import annotations

from pathlib import Path


def shipped_dir() -> Path:
    """The folder of example scenarios shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "scenarios"


def shipped() -> list[Path]:
    """The shipped example scenario files."""
    d = shipped_dir()
    return sorted(p for p in d.iterdir() if p.suffix.lower() in (".yaml", ".yml", ".json", ".csv"))


def resolve_path(source: str | Path) -> Path:
    """A path as given, or the shipped scenario of that name (``korea-2019``)."""
    p = Path(source)
    if p.exists():
        return p
    for cand in shipped():
        if str(source) in (cand.name, cand.stem):
            return cand
    return p  # read_raw reports it as not found


def shipped_names() -> dict[str, Path]:
    names: dict[str, Path] = {}
    for cand in shipped():
        names.setdefault(cand.stem, cand.resolve())
        names.setdefault(cand.name, cand.resolve())
    return names
