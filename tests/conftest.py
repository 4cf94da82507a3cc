"""Shared fixtures: where the shared data lives (CI has ../shared beside the clone)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EMISSION = SHARED / "data" / "bdm" / "emission_ec_1994.csv"


@pytest.fixture
def emission_csv() -> Path:
    if not EMISSION.exists():  # pragma: no cover - CI always has it
        pytest.skip("../shared/data is not beside the clone")
    return EMISSION


@pytest.fixture
def trade_file(tmp_path) -> Path:
    """A three-actor, two-issue scenario in which A and B trade (derived by hand in tests/test_exchange.py:
    the compromise points are 70 on both issues; after the trade, B holds 100 on p, A holds 100 on q, and
    both outcomes are 83.33)."""
    import json

    scen = {
        "name": "trade",
        "issues": [{"key": "p", "scale": [0, 100]}, {"key": "q", "scale": [0, 100]}],
        "actors": [
            {"key": "A", "capability": 1, "positions": {"p": 100, "q": 0}, "salience": {"p": 80, "q": 20}},
            {"key": "B", "capability": 1, "positions": {"p": 0, "q": 100}, "salience": {"p": 20, "q": 80}},
            {"key": "C", "capability": 1, "positions": {"p": 50, "q": 50}, "salience": {"p": 50, "q": 50}},
        ],
    }
    d = tmp_path / "trade"
    d.mkdir()
    path = d / "trade.json"
    path.write_text(json.dumps(scen), encoding="utf-8")
    return path
