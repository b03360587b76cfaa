"""The payloads of the designer's organisation events (docs/events.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

RoleName = Annotated[str, Field(min_length=1, max_length=100)]


class UserUpserted(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str = Field(min_length=1, max_length=150)
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    department: str | None = Field(default=None, max_length=100)
    roles: list[RoleName] = Field(default_factory=list, max_length=500)
    locale: str | None = Field(default=None, max_length=16)
    active: bool = True


class UserDeleted(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str = Field(min_length=1, max_length=150)


class DepartmentUpserted(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    parent: str | None = Field(default=None, max_length=100)
    manager: str | None = Field(default=None, max_length=150)


class DepartmentDeleted(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1, max_length=100)
