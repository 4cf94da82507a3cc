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
