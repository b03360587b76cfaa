"""API shapes of the organisation model."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


class DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    parent: str | None = Field(default=None, description="Key of the parent department.")
    manager: str | None = Field(default=None, description="Username of the department's manager.")


class DepartmentOut(BaseModel):
    key: str
    name: str
    parent: str | None
    manager: str | None
    updated_at: dt.datetime


class DepartmentPage(BaseModel):
    items: list[DepartmentOut]
    next_cursor: str | None


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL_PATTERN)
    department: str | None = Field(default=None, description="Key of the user's department.")
    position: str | None = Field(default=None, description="Key of the user's position.")
    roles: list[str] = Field(default_factory=list, max_length=100)
    locale: Literal["en", "zh-CN"] = "en"
    active: bool = True
    password: str | None = Field(
        default=None,
        min_length=8,
        max_length=256,
        description="Sets the password; left out, the current password (if any) is kept.",
    )


class UserOut(BaseModel):
    username: str
    display_name: str
    email: str | None
    department: str | None
    position: str | None
    roles: list[str]
    locale: Literal["en", "zh-CN"]
    active: bool
    has_password: bool
    updated_at: dt.datetime


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=8, max_length=256)
    current_password: str | None = Field(
        default=None, max_length=256, description="Required when users change their own password."
    )


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=2000)


class RoleOut(BaseModel):
    name: str
    description: str
    builtin: bool = Field(description="Built into the platform (admin, process_designer).")


class RolePage(BaseModel):
    items: list[RoleOut]
    next_cursor: str | None


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    department: str | None = Field(default=None, description="Key of the position's department.")


class PositionOut(BaseModel):
    key: str
    title: str
    department: str | None
    updated_at: dt.datetime


class PositionPage(BaseModel):
    items: list[PositionOut]
    next_cursor: str | None


class RejectedRow(BaseModel):
    row: int = Field(description="Line of the CSV file (the header is line 1).")
    username: str | None
    errors: list[dict[str, str]] = Field(description="`{field, message}` for each reason.")


class ImportCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    managers_set: int = 0


class ImportReport(BaseModel):
    dry_run: bool
    rows: int
    imported: ImportCounts
    rejected: list[RejectedRow]


class ResolvedRule(BaseModel):
    rule: str
    users: list[str] = Field(description="Users the rule names today.")
    note: str | None = Field(default=None, description="Why a rule gives nobody, if it does.")


class ResolveOut(BaseModel):
    initiator: str | None
    users: list[str] = Field(
        description="The union over all rules, as the runtime would offer the task."
    )
    rules: list[ResolvedRule]
