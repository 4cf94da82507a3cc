"""The bodies of the web API's requests (pydantic models, shown in ``/docs``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Most variants one forecast compares with.
MAX_VARIANTS = 10
#: Most rows one list request returns.
MAX_LIST = 1000


class ScenarioInput(BaseModel):
    """A scenario: a shipped example's ``name``, a ``scenario`` dict, or a file's ``text``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="A shipped example, e.g. korea-2019.")
    scenario: dict[str, Any] | None = Field(None, description="A scenario in the schema, as JSON.")
    text: str | None = Field(None, description="A scenario file's content (YAML, JSON or CSV).")
    format: Literal["yaml", "json", "csv"] | None = Field(None, description="The format of `text` (default: from `filename`, else yaml).")
    filename: str | None = Field(None, max_length=255,
                                 description="The file name `text` came from (used in problem reports).")

    def given(self) -> dict[str, Any]:
        """The scenario as the request gave it (what a stored run keeps)."""
        return self.model_dump(exclude_none=True, include={"name", "scenario", "text", "format", "filename"})


class RunRequest(ScenarioInput):
    """A forecast: a scenario, a model and its parameters, seed and Monte Carlo draws."""

    model: str | None = Field(None, description="Model name (default: the scenario's own choice, else compromise).")
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Seed (0 to 2**63-1).")
    draws: int = Field(0, ge=0, le=100_000, description="Monte Carlo draws (0: none).")
    sensitivity: bool = Field(False, description="Also run the sensitivity analysis.")
    compare: list[ScenarioInput] = Field(default_factory=list, max_length=MAX_VARIANTS,
                                         description=f"Variants to compare with (at most {MAX_VARIANTS}).")


class CompareRequest(BaseModel):
    """Several scenarios forecast with one model."""

    model_config = ConfigDict(extra="forbid")

    scenarios: list[ScenarioInput] = Field(..., min_length=2, max_length=MAX_VARIANTS + 1)
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Seed (0 to 2**63-1).")


class AdviceRequest(RunRequest):
    """Advice for one actor: which lever moves the forecast most toward it."""

    actor: str = Field(..., description="The actor advised (its key).")
    issue: str | None = Field(None, description="One issue (default: every issue).")


class JobRequest(RunRequest):
    """A background run."""

    kind: Literal["forecast", "sensitivity", "compare"] = "forecast"
