"""API shapes of forms and attachments."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FormIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: dict[str, Any] = Field(
        alias="schema",
        description='JSON Schema 2020-12 of the form\'s data ("type": "object"); '
        '`"x-dictionary": "<key>"` on a property draws its values from a data dictionary; '
        '`"format": "attachment-id"` holds the id of an uploaded attachment.',
    )
    ui_schema: dict[str, Any] = Field(default_factory=dict, description="Layout hints for SPAs.")
    rules: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=100,
        description='Cross-field rules: `{"expression": "${budget > 0}", "message": "...", '
        '"fields": ["budget"]}`; the expression must be true for valid data.',
    )


class FormOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    definition_id: uuid.UUID
    name: str
    form_key: str = Field(description="What a start event or user task names: `form:<name>`.")
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")
    ui_schema: dict[str, Any]
    rules: list[dict[str, Any]]
    used_by: list[str] = Field(description="Ids of the BPMN elements that name this form.")
    updated_by: str
    updated_at: dt.datetime


class FormPage(BaseModel):
    items: list[FormOut]
    next_cursor: str | None = None


class ValidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition_id: uuid.UUID
    form: str = Field(max_length=70, description="`<name>` or `form:<name>`.")
    data: dict[str, Any]
    context: dict[str, Any] = Field(
        default_factory=dict, description="Variables the rules may read besides the form data."
    )


class ValidateOut(BaseModel):
    valid: bool


class AttachmentOut(BaseModel):
    id: uuid.UUID
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: dt.datetime
