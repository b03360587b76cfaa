"""API shapes of the internal password check."""

from __future__ import annotations

import datetime as dt

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
    checked_at: dt.datetime = Field(
        description="When the account was read: the issue time of the token made from it."
    )


class Revocation(BaseModel):
    username: str
    valid_after: dt.datetime = Field(description="Tokens of the user issued before this no longer hold.")


class Revocations(BaseModel):
    items: list[Revocation]
    as_of: dt.datetime = Field(description="The database's time of the answer: the next `since`.")
