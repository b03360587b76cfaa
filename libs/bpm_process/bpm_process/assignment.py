"""The platform's people rules: who a task is for (``bpm:assignment``), who gets a copy
(``bpm:copyTo``, RACI ``informed``) and who takes over a late task
(``bpm:timeoutReassignTo``). Shared by the designer's lint and the engine, so a rule
the lint accepts is a rule the runtime resolves.

A rule list is comma separated; each rule is one of::

    user:<username>                  that user
    role:<role>                      holders of the role (stays a candidate role on tasks)
    manager | manager:<n>            the initiator's department manager, n levels up
    department-role:<role>           holders of the role in the initiator's department
    department:<key>/role:<role>     holders of the role in department <key>
    field:<variable>                 the username(s) in that instance variable
    initiator                        the starting user

Parsing is pure; the runtime resolves rules against its copy of the organisation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from bpm_process.namespaces import BPM_NS, BPMN_NS

__all__ = [
    "DEPARTMENT",
    "DEPARTMENT_ROLE",
    "FIELD",
    "INITIATOR",
    "MANAGER",
    "MAX_MANAGER_LEVELS",
    "MAX_RULES",
    "RACI_ROLES",
    "ROLE",
    "USER",
    "AssignmentRuleError",
    "Rule",
    "parse_rule",
    "parse_rules",
    "raci_texts",
    "rule_texts",
]

MAX_RULES = 50
"""Rules in one list, at most."""
MAX_MANAGER_LEVELS = 10
"""``manager:<n>`` goes at most this many levels up."""
RACI_ROLES = ("responsible", "approver", "consulted", "informed")
"""Children of ``<bpm:raci>``; the engine acts on ``informed`` (they get a copy)."""

USER, ROLE, MANAGER, DEPARTMENT_ROLE, DEPARTMENT, FIELD, INITIATOR = (
    "user",
    "role",
    "manager",
    "department-role",
    "department",
    "field",
    "initiator",
)

_NAME = r"[^\s,:/]{1,100}"
_VARIABLE = r"[A-Za-z_][A-Za-z0-9_]{0,99}(?:\.[A-Za-z_][A-Za-z0-9_]{0,99}){0,4}"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (USER, re.compile(rf"user:(?P<name>{_NAME})")),
    (ROLE, re.compile(rf"role:(?P<name>{_NAME})")),
    (MANAGER, re.compile(r"manager(?::(?P<levels>\d{1,3}))?")),
    (DEPARTMENT_ROLE, re.compile(rf"department-role:(?P<name>{_NAME})")),
    (DEPARTMENT, re.compile(rf"department:(?P<department>{_NAME})/role:(?P<name>{_NAME})")),
    (FIELD, re.compile(rf"field:(?P<name>{_VARIABLE})")),
    (INITIATOR, re.compile(r"initiator")),
)
_FORMS = (
    "user:<username>, role:<role>, manager, manager:<n>, department-role:<role>, "
    "department:<key>/role:<role>, field:<variable> or initiator"
)


class AssignmentRuleError(ValueError):
    """A rule list that cannot be read; the message says which rule and why."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One parsed rule. ``name`` is the username, role or variable the rule names."""

    kind: str
    name: str | None = None
    department: str | None = None
    levels: int = 1
    """``manager``: how many distinct managers up from the initiator (1 = the first)."""

    def __str__(self) -> str:
        if self.kind == MANAGER:
            return MANAGER if self.levels == 1 else f"{MANAGER}:{self.levels}"
        if self.kind == INITIATOR:
            return INITIATOR
        if self.kind == DEPARTMENT:
            return f"department:{self.department}/role:{self.name}"
        return f"{self.kind}:{self.name}"

    @property
    def needs_department_tree(self) -> bool:
        """Whether resolving the rule needs the initiator's place in the organisation."""
        return self.kind in (MANAGER, DEPARTMENT_ROLE)


def parse_rule(text: str) -> Rule:
    """Parse one rule; raise :class:`AssignmentRuleError` when it is not one."""
    stripped = text.strip()
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(stripped)
        if match is None:
            continue
        groups = match.groupdict()
        if kind == MANAGER:
            levels = int(groups.get("levels") or 1)
            if not 1 <= levels <= MAX_MANAGER_LEVELS:
                raise AssignmentRuleError(
                    f"{stripped!r}: manager levels must be between 1 and {MAX_MANAGER_LEVELS}"
                )
            return Rule(MANAGER, levels=levels)
        return Rule(kind, groups.get("name"), groups.get("department"))
    raise AssignmentRuleError(f"{stripped!r} is not a rule; write {_FORMS}")


def parse_rules(text: str) -> tuple[Rule, ...]:
    """Parse a comma-separated rule list (duplicates dropped, order kept).

    Raises :class:`AssignmentRuleError` for an empty list, an unknown rule or more than
    :data:`MAX_RULES` rules.
    """
    items = [item.strip() for item in text.split(",")]
    items = [item for item in items if item]
    if not items:
        raise AssignmentRuleError("the rule list is empty; write " + _FORMS)
    if len(items) > MAX_RULES:
        raise AssignmentRuleError(f"at most {MAX_RULES} rules, not {len(items)}")
    rules: list[Rule] = []
    for item in items:
        rule = parse_rule(item)
        if rule not in rules:
            rules.append(rule)
    return tuple(rules)


def raci_texts(element: etree._Element) -> dict[str, str]:
    """The RACI of a flow node (``<bpm:raci>`` inside ``extensionElements``): role ->
    rule list text, several elements of one role joined."""
    found: dict[str, list[str]] = {}
    extension = element.find(f"{{{BPMN_NS}}}extensionElements")
    if extension is None:
        return {}
    for raci in extension.findall(f"{{{BPM_NS}}}raci"):
        for role in RACI_ROLES:
            for child in raci.findall(f"{{{BPM_NS}}}{role}"):
                text = "".join(child.itertext()).strip()
                if text:
                    found.setdefault(role, []).append(text)
    return {role: ", ".join(texts) for role, texts in found.items()}


def rule_texts(element: etree._Element) -> list[tuple[str, str]]:
    """Every rule list of a flow node as ``(where, text)``, where is how a modeller
    names it (``bpm:assignment``, ``bpm:raci informed`` ...). Empty attributes are
    included, so a check can report them."""
    found: list[tuple[str, str]] = []
    for attribute in ("assignment", "signers", "copyTo", "timeoutReassignTo"):
        value = element.get(f"{{{BPM_NS}}}{attribute}")
        if value is not None:
            found.append((f"bpm:{attribute}", value))
    for role, text in raci_texts(element).items():
        found.append((f"bpm:raci {role}", text))
    return found


def signers_variable(node_id: str) -> str:
    """The variable holding the signers the runtime resolved for a countersign whose
    `bpm:signers` rules name roles, managers or department roles (`<node>_signers`)."""
    return node_id.replace("-", "_").replace(".", "_") + "_signers"
