"""The approval tree: how DingTalk and Feishu users draw an approval flow.

A tree is a start (with the submission form), a list of nodes run one after the
other, and an end. Nodes:

* `approver` - people approve or reject (审批人). `approvers` are rules: a user, a
  role, the initiator's manager `levels` up, a role in a department (the
  initiator's when `department` is left out), the user(s) in a form field, the
  initiator. `mode`: `any` (或签, the first of the candidates decides), `all`
  (会签, every listed user must approve, in parallel) or `sequence` (依次审批, one
  after the other); `all` and `sequence` need the signers enumerated: users, or one
  form field holding a list of usernames. `reject_action` says what a rejection
  does: end the instance (default), go back to the initiator, or to the previous
  step.
* `handler` - people do something (办理人): a task without approve/reject.
* `copy` - a copy (抄送) to the recipients; the flow goes on at once.
* `automated` - a step done by a system: an external worker `topic`, or an `http`
  call.
* `condition` - ordered branches with conditions in the expression language
  (`${amount > 5000}`), the first that holds is taken, and a `default` branch.
* `parallel` - branches that all run; the flow continues when all are done.

Approver and handler nodes take a `form` (the name of a form of the definition),
a `time_limit` (ISO 8601 duration in working time, a reminder before it, and what
happens when it passes) and `raci` (who is responsible, approves, is consulted and
is informed; the informed get a copy when the node completes).

Ids are optional: missing ones are given in tree order (`approver_1`, ...), and a
tree read back from its BPMN has them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from bpm_process.assignment import MAX_MANAGER_LEVELS, Rule
from bpm_process.expressions import (
    ExpressionError,
    compile_expression,
    compile_value,
    is_expression,
)
from bpm_process.isotime import parse_duration
from services.designer.names import NAME_PATTERN

ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,254}$"
VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
RESERVED_IDS = frozenset({"start", "end"})

_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: str) -> str:
    """Text the tree's BPMN can carry: XML 1.0 has no control characters but tab and
    line breaks (the tree is stored as that XML, so anything else could not be saved)."""
    found = _NOT_IN_XML.search(value)
    if found:
        raise ValueError(f"must not contain the control character U+{ord(found.group()):04X}")
    return value


XmlText = Annotated[str, AfterValidator(_xml_text)]
NodeId = Annotated[str | None, Field(default=None, pattern=ID_PATTERN)]
Name = Annotated[XmlText, Field(min_length=1, max_length=200)]
RoleName = Annotated[str, Field(pattern=NAME_PATTERN)]
FormName = Annotated[str, Field(pattern=NAME_PATTERN, description="A form of the definition.")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserApprover(_Strict):
    type: Literal["user"]
    username: Annotated[str, Field(pattern=NAME_PATTERN)]


class RoleApprover(_Strict):
    type: Literal["role"]
    role: RoleName


class ManagerApprover(_Strict):
    type: Literal["manager"]
    levels: int = Field(default=1, ge=1, le=MAX_MANAGER_LEVELS)


class DepartmentRoleApprover(_Strict):
    type: Literal["department_role"]
    role: RoleName
    department: Annotated[str, Field(pattern=NAME_PATTERN)] | None = Field(
        default=None, description="Department key; left out: the initiator's department."
    )


class FieldApprover(_Strict):
    type: Literal["field"]
    field: Annotated[str, Field(pattern=VARIABLE_PATTERN)]


class InitiatorApprover(_Strict):
    type: Literal["initiator"]


Approver = Annotated[
    UserApprover
    | RoleApprover
    | ManagerApprover
    | DepartmentRoleApprover
    | FieldApprover
    | InitiatorApprover,
    Field(discriminator="type"),
]
Approvers = Annotated[list[Approver], Field(min_length=1, max_length=50)]


def to_rule(approver: Any) -> Rule:
    """The `bpm:assignment` rule of an approver."""
    if isinstance(approver, UserApprover):
        return Rule("user", approver.username)
    if isinstance(approver, RoleApprover):
        return Rule("role", approver.role)
    if isinstance(approver, ManagerApprover):
        return Rule("manager", levels=approver.levels)
    if isinstance(approver, DepartmentRoleApprover):
        if approver.department is None:
            return Rule("department-role", approver.role)
        return Rule("department", approver.role, department=approver.department)
    if isinstance(approver, FieldApprover):
        return Rule("field", approver.field)
    return Rule("initiator")


def from_rule(rule: Rule) -> Any:
    """The approver a `bpm:assignment` rule stands for."""
    if rule.kind == "user":
        return UserApprover(type="user", username=rule.name or "")
    if rule.kind == "role":
        return RoleApprover(type="role", role=rule.name or "")
    if rule.kind == "manager":
        return ManagerApprover(type="manager", levels=rule.levels)
    if rule.kind == "department-role":
        return DepartmentRoleApprover(type="department_role", role=rule.name or "")
    if rule.kind == "department":
        return DepartmentRoleApprover(
            type="department_role", role=rule.name or "", department=rule.department
        )
    if rule.kind == "field":
        return FieldApprover(type="field", field=rule.name or "")
    return InitiatorApprover(type="initiator")


def _duration(value: str | None) -> str | None:
    """An ISO 8601 duration, or an expression giving one (`${urgent ? 'PT4H' : 'P1D'}`)."""
    if value is None:
        return None
    if is_expression(value):
        try:
            compile_value(value)
        except ExpressionError as exc:
            raise ValueError(f"the expression does not compile: {exc.message}") from None
        return value
    try:
        if parse_duration(value).negative:
            raise ValueError("must not be negative")
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 duration: {exc}") from None
    return value


class TimeLimit(_Strict):
    duration: str = Field(
        description="ISO 8601 duration in working time (P1D, PT4H), or an expression giving one."
    )
    remind_before: str | None = Field(default=None, description="ISO duration; default PT1H.")
    action: Literal["escalate", "auto_approve", "auto_reject", "reassign"] = "escalate"
    reassign_to: list[Approver] = Field(default_factory=list, max_length=50)

    _durations = field_validator("duration", "remind_before")(_duration)

    @model_validator(mode="after")
    def _reassign(self) -> TimeLimit:
        if self.action == "reassign" and not self.reassign_to:
            raise ValueError('action "reassign" needs reassign_to')
        if self.action != "reassign" and self.reassign_to:
            raise ValueError('reassign_to only goes with action "reassign"')
        return self


class Raci(_Strict):
    responsible: list[Approver] = Field(default_factory=list, max_length=50)
    approver: list[Approver] = Field(default_factory=list, max_length=50)
    consulted: list[Approver] = Field(default_factory=list, max_length=50)
    informed: list[Approver] = Field(
        default_factory=list, max_length=50, description="Get a copy when the node completes."
    )


class ApproverNode(_Strict):
    type: Literal["approver"]
    id: NodeId
    name: Name
    approvers: Approvers
    mode: Literal["any", "all", "sequence"] = "any"
    reject_action: Literal["end", "initiator", "previous"] = "end"
    form: FormName | None = None
    time_limit: TimeLimit | None = None
    raci: Raci | None = None

class HandlerNode(_Strict):
    type: Literal["handler"]
    id: NodeId
    name: Name
    handlers: Approvers
    form: FormName | None = None
    time_limit: TimeLimit | None = None
    raci: Raci | None = None


class CopyNode(_Strict):
    type: Literal["copy"]
    id: NodeId
    name: Name = "Copy"
    recipients: Approvers


class HttpCall(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: XmlText = Field(min_length=1, max_length=2000)
    headers: dict[XmlText, XmlText] = Field(default_factory=dict, max_length=50)
    body: XmlText | None = Field(default=None, max_length=20_000)
    response_variable: Annotated[str, Field(pattern=VARIABLE_PATTERN)] | None = None
    response_path: XmlText | None = Field(default=None, max_length=200)
    timeout: str | None = None
    retries: int | None = Field(default=None, ge=0, le=100)

    _durations = field_validator("timeout")(_duration)


class AutomatedNode(_Strict):
    type: Literal["automated"]
    id: NodeId
    name: Name
    topic: XmlText | None = Field(
        default=None, max_length=200, description="External task topic for workers."
    )
    http: HttpCall | None = None

    @model_validator(mode="after")
    def _one_way(self) -> AutomatedNode:
        if (self.topic is None) == (self.http is None):
            raise ValueError("an automated node has either a topic or an http call")
        return self


class ConditionBranch(_Strict):
    id: NodeId
    name: Name
    condition: XmlText = Field(min_length=1, max_length=4000, examples=["${amount > 5000}"])
    nodes: list[Node] = Field(default_factory=list, max_length=200)

    @field_validator("condition")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compile_expression(value)
        except ExpressionError as exc:
            raise ValueError(f"the condition does not compile: {exc.message}") from None
        return value


class DefaultBranch(_Strict):
    id: NodeId
    name: Name = "Otherwise"
    nodes: list[Node] = Field(default_factory=list, max_length=200)


class ConditionNode(_Strict):
    type: Literal["condition"]
    id: NodeId
    name: Name = "Condition"
    branches: list[ConditionBranch] = Field(min_length=1, max_length=20)
    default: DefaultBranch


class ParallelBranch(_Strict):
    id: NodeId
    name: Annotated[XmlText, Field(max_length=200)] | None = None
    nodes: list[Node] = Field(default_factory=list, max_length=200)


class ParallelNode(_Strict):
    type: Literal["parallel"]
    id: NodeId
    name: Name = "Parallel"
    branches: list[ParallelBranch] = Field(min_length=2, max_length=20)


Node = Annotated[
    ApproverNode | HandlerNode | CopyNode | AutomatedNode | ConditionNode | ParallelNode,
    Field(discriminator="type"),
]


class StartNode(_Strict):
    name: Name = "Submitted"
    form: FormName | None = None


class ApprovalTree(_Strict):
    key: str = Field(pattern=KEY_PATTERN, description="The process key (id of the BPMN process).")
    name: Name
    description: XmlText | None = Field(default=None, max_length=5000)
    start: StartNode = Field(default_factory=StartNode)
    nodes: list[Node] = Field(max_length=200)
    end_name: Name = "Done"


for _model in (ConditionBranch, DefaultBranch, ConditionNode, ParallelBranch, ParallelNode):
    _model.model_rebuild()
