"""API shapes of the internal password check."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # lenient bounds: any well-typed credentials get 200 or 401, never a validation error
    username: str = Field(max_length=1024)
    password: str = Field(max_length=4096)


class VerifyOut(BaseModel):
    username: str
    roles: list[str]
    department: str | None
    display_name: str
    email: str | None
    locale: str
