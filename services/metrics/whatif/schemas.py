"""The what-if API's shapes."""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_BPMN_CHARS = 5 * 1024 * 1024


class WhatIfRequest(BaseModel):
    key: str = Field(min_length=1, max_length=255, description="The process key.")
    version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="The version whose history (and model) to start from; the newest if absent.",
    )
    bpmn: str | None = Field(
        default=None, max_length=MAX_BPMN_CHARS, description="The changed model (BPMN 2.0 XML)."
    )
    parallelize: list[list[str]] | None = Field(
        default=None,
        max_length=20,
        description="Groups of nodes that follow one another, to run side by side instead.",
        examples=[[["department_review", "finance_review"]]],
    )
    runs: int = Field(default=1000, ge=1, description="Simulation runs.")
    seed: int = Field(default=1, ge=0, le=2**63 - 1, description="The same seed, the same result.")
    include_trial: bool = Field(default=False, description="Learn from trial instances too.")


class Bin(BaseModel):
    lower: float
    upper: float
    count: int


class Distribution(BaseModel):
    count: int
    mean: float | None
    median: float | None
    p90: float | None
    histogram: list[Bin] = Field(description="Common bins for every distribution of the answer.")


class Branch(BaseModel):
    gateway: str
    target: str
    probability: float


class Change(BaseModel):
    mean: float | None
    median: float | None
    p90: float | None


class WhatIfResult(BaseModel):
    key: str
    version: int | None = Field(description="The version whose history was used; null for all.")
    model_version: int | None = Field(description="The published model the change applies to.")
    runs: int
    seed: int
    recorded: Distribution = Field(description="Cycle times of completed instances (seconds).")
    simulated_current: Distribution | None = Field(
        description="The unchanged model simulated the same way (how well the simulation fits)."
    )
    simulated: Distribution = Field(description="The changed model, simulated.")
    expected_change: Change | None = Field(
        description="simulated - simulated_current: the effect of the change alone."
    )
    unmeasured_nodes: list[str] = Field(description="Activities without recorded durations.")
    branches: list[Branch] = Field(description="Branch probabilities used at exclusive gateways.")
    notes: list[str]
