"""Resolving people rules (`bpm:assignment`, `bpm:timeoutReassignTo`, `bpm:copyTo`, RACI
informed; syntax in `bpm_process.assignment`) against the runtime's copy of the
organisation (`org_users`, `org_departments`).

One rule list costs at most two queries, however many rules it has: the department
chain above the person the rules start from (only for `manager` and
`department-role`), then one UNION of the users the rules name, the role holders they
need and the roles that have holders.

A named user (`user:`, `field:`, a manager) counts unless the organisation copy knows
them as inactive or deleted; a role counts when an active user holds it. A rule that
finds nobody is reported in `Resolution.unresolved` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ARRAY, String, and_, exists, func, literal, null, select, true, union_all
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import DomainError, field_error
from bpm_process.assignment import (
    DEPARTMENT,
    DEPARTMENT_ROLE,
    FIELD,
    INITIATOR,
    MANAGER,
    ROLE,
    USER,
    AssignmentRuleError,
    Rule,
    parse_rule,
)
from bpm_process.engine import ExpressionFailed, TaskSpec
from services.runtime.instances.applier import Step
from services.runtime.org.models import org_departments, org_users

__all__ = [
    "FALLBACK_ROLE",
    "MAX_PEOPLE",
    "Resolution",
    "TaskPeople",
    "managers_above",
    "resolve_rules",
    "role_holders",
    "task_people",
]

MAX_PEOPLE = 500
"""Users one role expands to at most (copies, escalations)."""
_MAX_DEPTH = 30


@dataclass(slots=True)
class Resolution:
    """Who a rule list names: users and (unless expanded) candidate roles, in rule
    order without repeats, and the rules that found nobody with the reason."""

    users: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    unresolved: list[tuple[str, str]] = field(default_factory=list)

    @property
    def nobody(self) -> bool:
        return not self.users and not self.roles

    def add_user(self, username: str) -> None:
        if username not in self.users:
            self.users.append(username)

    def add_role(self, role: str) -> None:
        if role not in self.roles:
            self.roles.append(role)


@dataclass(slots=True)
class _Needs:
    names: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    departments: set[str] = field(default_factory=set)
    department_roles: set[str] = field(default_factory=set)


async def resolve_rules(
    session: AsyncSession,
    rules: Sequence[str],
    *,
    initiator: str | None,
    variables: Mapping[str, Any],
    expand_roles: bool = False,
) -> Resolution:
    """Resolve `rules` for an instance started by `initiator` with `variables`.

    With `expand_roles` a `role:` rule gives its holders (at most `MAX_PEOPLE`) as users
    (copies go to people); otherwise it stays a candidate role.
    """
    parsed: list[tuple[str, Rule | None]] = []
    for text in rules:
        try:
            parsed.append((text, parse_rule(text)))
        except AssignmentRuleError:
            parsed.append((text, None))
    chain: list[tuple[str, str | None]] = []
    if initiator and any(rule is not None and rule.needs_department_tree for _, rule in parsed):
        chain = await department_chain(session, initiator)
    home = chain[0][0] if chain else None
    managers = _distinct_managers(chain, initiator)

    needs = _Needs()
    field_names: dict[str, list[str] | str] = {}
    for text, rule in parsed:
        if rule is None:
            continue
        if rule.kind == USER and rule.name:
            needs.names.add(rule.name)
        elif rule.kind == FIELD and rule.name:
            found = _field_names(variables, rule.name)
            field_names[text] = found
            if isinstance(found, list):
                needs.names.update(found)
        elif rule.kind == MANAGER and len(managers) >= rule.levels:
            needs.names.add(managers[rule.levels - 1])
        elif rule.kind == ROLE and rule.name:
            needs.roles.add(rule.name)
        elif rule.kind == DEPARTMENT_ROLE and rule.name and home:
            needs.departments.add(home)
            needs.department_roles.add(rule.name)
        elif rule.kind == DEPARTMENT and rule.name and rule.department:
            needs.departments.add(rule.department)
            needs.department_roles.add(rule.name)
    org = await _lookup(session, needs, expand_roles)

    result = Resolution()
    for text, rule in parsed:
        why = _apply(
            result,
            text,
            rule,
            org,
            initiator=initiator,
            home=home,
            chain=chain,
            managers=managers,
            field_names=field_names,
            expand_roles=expand_roles,
        )
        if why is not None:
            result.unresolved.append((text, why))
    return result


async def department_chain(session: AsyncSession, username: str) -> list[tuple[str, str | None]]:
    """`username`'s department and the ones above it, nearest first, as (key, manager)."""
    start = (
        select(
            org_departments.c.key,
            org_departments.c.parent,
            org_departments.c.manager,
            literal(0).label("depth"),
        )
        .join(org_users, org_users.c.department == org_departments.c.key)
        .where(org_users.c.username == username, ~org_departments.c.deleted)
        .cte("chain", recursive=True)
    )
    above = (
        select(
            org_departments.c.key,
            org_departments.c.parent,
            org_departments.c.manager,
            (start.c.depth + 1).label("depth"),
        )
        .join(start, org_departments.c.key == start.c.parent)
        .where(~org_departments.c.deleted, start.c.depth < _MAX_DEPTH)
    )
    chain = start.union_all(above)
    rows = (
        await session.execute(select(chain.c.key, chain.c.manager).order_by(chain.c.depth))
    ).all()
    return [(row.key, row.manager) for row in rows]


async def managers_above(session: AsyncSession, username: str) -> list[str]:
    """The distinct active managers above `username`, nearest first (their own
    department's manager unless that is them)."""
    managers = _distinct_managers(await department_chain(session, username), username)
    if not managers:
        return []
    inactive = set(
        (
            await session.execute(
                select(org_users.c.username).where(
                    org_users.c.username.in_(managers), ~(org_users.c.active & ~org_users.c.deleted)
                )
            )
        ).scalars()
    )
    return [manager for manager in managers if manager not in inactive]


async def role_holders(session: AsyncSession, roles: Sequence[str]) -> list[str]:
    """Active holders of any of `roles` (at most `MAX_PEOPLE`), by username."""
    if not roles:
        return []
    query = (
        select(org_users.c.username)
        .where(org_users.c.active, ~org_users.c.deleted, org_users.c.roles.overlap(list(roles)))
        .order_by(org_users.c.username)
        .limit(MAX_PEOPLE)
    )
    return list((await session.execute(query)).scalars())


# -- internals -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Org:
    inactive: set[str] = field(default_factory=set)
    """Named users the organisation knows as inactive or deleted."""
    held: set[str] = field(default_factory=set)
    """Roles an active user holds."""
    members: list[tuple[str, str | None, tuple[str, ...]]] = field(default_factory=list)
    """Active users of the needed departments with the needed roles, and (expanded)
    holders of the needed roles: (username, department, roles)."""


async def _lookup(session: AsyncSession, needs: _Needs, expand_roles: bool) -> _Org:
    """One UNION query for everything the rules need from the organisation."""
    active = and_(org_users.c.active, ~org_users.c.deleted)
    parts = []
    if needs.names:
        parts.append(
            select(
                literal("name").label("what"),
                org_users.c.username,
                org_users.c.department,
                org_users.c.roles,
                active.label("ok"),
            ).where(org_users.c.username.in_(sorted(needs.names)))
        )
    if needs.departments and needs.department_roles:
        parts.append(
            select(
                literal("member"),
                org_users.c.username,
                org_users.c.department,
                org_users.c.roles,
                true(),
            ).where(
                active,
                org_users.c.department.in_(sorted(needs.departments)),
                org_users.c.roles.overlap(sorted(needs.department_roles)),
            )
        )
    if needs.roles:
        wanted = (
            func.unnest(literal(sorted(needs.roles), ARRAY(String)))
            .table_valued("role")
            .render_derived()
        )
        parts.append(
            select(literal("held"), null(), null(), array([wanted.c.role]), true()).where(
                exists().where(active, org_users.c.roles.contains(array([wanted.c.role])))
            )
        )
        if expand_roles:
            holders = (
                select(org_users.c.username, org_users.c.department, org_users.c.roles)
                .where(active, org_users.c.roles.overlap(sorted(needs.roles)))
                .order_by(org_users.c.username)
                .limit(MAX_PEOPLE)
                .subquery()
            )
            parts.append(
                select(
                    literal("member"),
                    holders.c.username,
                    holders.c.department,
                    holders.c.roles,
                    true(),
                )
            )
    org = _Org()
    if not parts:
        return org
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    for what, username, department, roles, ok in (await session.execute(query)).all():
        if what == "name":
            if not ok:
                org.inactive.add(username)
        elif what == "held":
            org.held.update(roles)
        else:
            org.members.append((username, department, tuple(roles or ())))
    return org


def _apply(
    result: Resolution,
    text: str,
    rule: Rule | None,
    org: _Org,
    *,
    initiator: str | None,
    home: str | None,
    chain: list[tuple[str, str | None]],
    managers: list[str],
    field_names: Mapping[str, list[str] | str],
    expand_roles: bool,
) -> str | None:
    """Add what one rule names to `result`; return why it names nobody, or None."""
    if rule is None:
        return "not a rule"
    kind = rule.kind
    if kind == INITIATOR:
        if not initiator:
            return "the instance has no initiator"
        result.add_user(initiator)
        return None
    if kind == USER:
        return _named(
            result, [rule.name or ""], org, f"the user {rule.name} is inactive or deleted"
        )
    if kind == FIELD:
        found = field_names.get(text)
        if isinstance(found, str):
            return found
        return _named(result, found or [], org, f"the variable {rule.name} names no active user")
    if kind == MANAGER:
        if not initiator:
            return "the instance has no initiator"
        if not chain:
            return f"the initiator {initiator} belongs to no department"
        if len(managers) < rule.levels:
            return f"no manager {rule.levels} level(s) above {initiator} in the department tree"
        manager = managers[rule.levels - 1]
        return _named(result, [manager], org, f"the manager {manager} is inactive or deleted")
    if kind == ROLE:
        if rule.name not in org.held:
            return f"no active user holds the role {rule.name}"
        if expand_roles:
            for username, _, roles in org.members:
                if rule.name in roles:
                    result.add_user(username)
        else:
            result.add_role(rule.name or "")
        return None
    department = home if kind == DEPARTMENT_ROLE else rule.department
    if department is None:
        return (
            "the instance has no initiator"
            if not initiator
            else f"the initiator {initiator} belongs to no department"
        )
    members = [u for u, d, roles in org.members if d == department and rule.name in roles]
    if not members:
        return f"no active user holds the role {rule.name} in the department {department}"
    for username in members:
        result.add_user(username)
    return None


def _named(result: Resolution, names: Sequence[str], org: _Org, why: str) -> str | None:
    usable = [name for name in names if name and name not in org.inactive]
    for name in usable:
        result.add_user(name)
    return None if usable else why


def _distinct_managers(chain: list[tuple[str, str | None]], person: str | None) -> list[str]:
    """Managers up the chain, skipping departments without one, the person themselves
    and repeats: `manager:1` is the first, `manager:2` the next one up."""
    managers: list[str] = []
    for _, manager in chain:
        if manager and manager != person and manager not in managers:
            managers.append(manager)
    return managers


def _field_names(variables: Mapping[str, Any], path: str) -> list[str] | str:
    """The usernames in a variable (a dotted path into maps): a name, a comma-separated
    text or a list of names. A text result is why there are none."""
    value: Any = variables
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return f"the variable {path} is not set"
        value = value[part]
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        return f"the variable {path} is not a username or a list of usernames"
    names = [item.strip() for item in items if item.strip()]
    return names or f"the variable {path} is empty"


# -- tasks -----------------------------------------------------------------------------------

FALLBACK_ROLE = "admin"
"""Who is offered a task whose rules found nobody (never a task nobody can see)."""


@dataclass(slots=True)
class TaskPeople:
    """Who a new task is for once its `bpm:assignment` rules are resolved."""

    assignee: str | None
    candidate_users: list[str]
    candidate_roles: list[str]
    unresolved: list[tuple[str, str]] = field(default_factory=list)
    fallback: bool = False
    """True when nobody was left and the task is offered to `FALLBACK_ROLE`."""

    def record_unresolved(self, step: Step, spec: TaskSpec) -> None:
        """One `assignment_unresolved` history entry per rule that found nobody."""
        for rule, reason in self.unresolved:
            step.history.add(
                "assignment_unresolved",
                step.now,
                node_id=spec.node_id,
                node_name=spec.name,
                task_id=spec.id,
                details={
                    "rule": rule,
                    "reason": reason,
                    **({"offered_to_role": FALLBACK_ROLE} if self.fallback else {}),
                },
            )


USER_NAME_MAX, ROLE_NAME_MAX = 64, 100
"""The longest user and role names the organisation model has (and tasks store)."""


def _check_names(spec: TaskSpec) -> None:
    """The assignee and candidates an expression gave are names the organisation could
    have: a 10 000-character "assignee" from a form field is refused as the command's
    expression failure (422, the node named), not at the database as a server error."""
    for what, names, longest in (
        ("assignee", (spec.assignee,) if spec.assignee else (), USER_NAME_MAX),
        ("candidate users", spec.candidate_users, USER_NAME_MAX),
        ("candidate groups", spec.candidate_groups, ROLE_NAME_MAX),
    ):
        for name in names:
            if len(name) > longest:
                failed = ExpressionFailed(
                    f"the {what} of {spec.node_id!r} gave a name longer than {longest} characters",
                    element_id=spec.node_id,
                )
                raise DomainError(  # as `instances.service.engine_error` renders the engine's refusals
                    failed.message, status=failed.status_code, title="Process engine refused the command",
                    errors=[field_error(spec.node_id, failed.message)], code=failed.code,
                )


async def task_people(step: Step, spec: TaskSpec) -> TaskPeople:
    """The assignee and candidates of a new task (a `TaskSpec` created in `step`): the
    other dialects' assignment plus the people its rules resolve to. The assignee from
    another dialect stays the assignee; rules add candidates. If nobody is left at all,
    the task is offered to the role `admin`."""
    _check_names(spec)
    people = TaskPeople(spec.assignee, list(spec.candidate_users), list(spec.candidate_groups))
    if not spec.assignment_rules:
        if not (people.assignee or people.candidate_users or people.candidate_roles):
            _offer_to_fallback(people)  # a model that names nobody: the task is not invisible
        return people
    resolution = await resolve_rules(
        step.session,
        spec.assignment_rules,
        initiator=step.row.initiator,
        variables=step.extras["result"].state.variables,
    )
    people.candidate_users += [u for u in resolution.users if u not in people.candidate_users]
    people.candidate_roles += [r for r in resolution.roles if r not in people.candidate_roles]
    people.unresolved = resolution.unresolved
    if not (people.assignee or people.candidate_users or people.candidate_roles):
        _offer_to_fallback(people)
    return people


def _offer_to_fallback(people: TaskPeople) -> None:
    people.candidate_roles = [FALLBACK_ROLE]
    people.fallback = True
