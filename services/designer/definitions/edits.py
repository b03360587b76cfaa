"""Edits the designer makes to a stored model, applied to its parsed tree.

Each edit names an element by id and changes one thing; an edit request applies
its operations in order to a copy of a version and stores the result as the next
version of the key (a draft), so published versions never change.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bpm_common.errors import Unprocessable, field_error
from services.designer.bpmn.document import BpmnDocument, ElementNotFound, Raci

_Id = Annotated[str, Field(min_length=1, max_length=255)]
_Rules = Annotated[str, Field(min_length=1, max_length=2000)]
_Duration = Annotated[str, Field(min_length=2, max_length=100)]


class _Operation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    element_id: _Id = Field(description="Id of the BPMN element (process, task, event ...).")


class Rename(_Operation):
    op: Literal["rename"]
    name: str | None = Field(max_length=500, description="None removes the name.")


class Document(_Operation):
    op: Literal["document"]
    text: str | None = Field(max_length=20_000, description="None removes the documentation.")


class SetRaci(_Operation):
    op: Literal["raci"]
    responsible: _Rules | None = None
    approver: _Rules | None = None
    consulted: _Rules | None = None
    informed: _Rules | None = Field(default=None, description="Copied when the node completes.")


class SetForm(_Operation):
    op: Literal["form"]
    form: str | None = Field(max_length=64, description="Form name (`form:<name>`); None removes.")


class SetAssignment(_Operation):
    op: Literal["assignment"]
    rules: _Rules | None = Field(description="`bpm:assignment` rules; None removes them.")


class SetTimeLimit(_Operation):
    op: Literal["time_limit"]
    time_limit: _Duration | None = Field(description="ISO 8601 duration in working time.")
    remind_before: _Duration | None = None
    timeout_action: Literal["escalate", "auto_approve", "auto_reject", "reassign"] | None = None
    timeout_reassign_to: _Rules | None = None


Operation = Annotated[
    Rename | Document | SetRaci | SetForm | SetAssignment | SetTimeLimit,
    Field(discriminator="op"),
]


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operations: list[Operation] = Field(min_length=1, max_length=200)
    change_note: str | None = Field(default=None, max_length=2000)


def apply(document: BpmnDocument, operations: list[Operation]) -> None:
    """Apply every operation; 422 naming the operation whose element does not exist."""
    for index, operation in enumerate(operations):
        try:
            _apply_one(document, operation)
        except ElementNotFound as exc:
            raise Unprocessable(
                f"no element {exc.element_id!r} in the model",
                errors=[field_error(f"operations[{index}].element_id", str(exc))],
            ) from None


def _apply_one(document: BpmnDocument, operation: Operation) -> None:
    element_id = operation.element_id
    if isinstance(operation, Rename):
        document.set_name(element_id, operation.name)
    elif isinstance(operation, Document):
        document.set_documentation(element_id, operation.text)
    elif isinstance(operation, SetRaci):
        raci = Raci(
            operation.responsible, operation.approver, operation.consulted, operation.informed
        )
        document.set_raci(element_id, raci)
    elif isinstance(operation, SetForm):
        document.set_form_key(element_id, operation.form)
    elif isinstance(operation, SetAssignment):
        document.set_bpm_attributes(element_id, {"assignment": operation.rules})
    else:
        document.set_bpm_attributes(
            element_id,
            {
                "timeLimit": operation.time_limit,
                "remindBefore": operation.remind_before,
                "timeoutAction": operation.timeout_action,
                "timeoutReassignTo": operation.timeout_reassign_to,
            },
        )
