"""Who an assignment rule names today, from the designer's organisation model.

A preview for process designers (`GET /api/v1/org/resolve`): the runtime resolves
the same rules from its own copy of the organisation, built from the `org.*`
events, when a task is created.

* `manager:<n>` is the n-th distinct manager up the initiator's department chain
  (departments without a manager, the initiator themselves and repeats are
  skipped), as the runtime counts them; `manager` is `manager:1`;
* `department-role:<role>` the holders of the role in the initiator's department;
* `department:<key>/role:<role>` the holders of the role in that department;
* `field:<variable>` names whoever the form field holds at run time.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Unprocessable, field_error
from bpm_process.assignment import AssignmentRuleError, Rule, parse_rules
from services.designer.org import repository as repo
from services.designer.org.schemas import ResolvedRule, ResolveOut
from services.designer.org.service import MAX_DEPARTMENT_DEPTH


async def resolve(session: AsyncSession, rules: str, initiator: str | None) -> ResolveOut:
    try:
        parsed = parse_rules(rules)
    except AssignmentRuleError as exc:
        raise Unprocessable(
            "the rules do not parse", errors=[field_error("rules", str(exc))]
        ) from None
    department = None
    if initiator is not None:
        user = await repo.get_user(session, initiator)
        if user is None:
            raise Unprocessable(
                "unknown initiator", errors=[field_error("initiator", f"no user {initiator!r}")]
            )
        department = user.department_key
    resolved = [await _resolve_one(session, rule, initiator, department) for rule in parsed]
    users = list(dict.fromkeys(u for r in resolved for u in r.users))
    return ResolveOut(initiator=initiator, users=users, rules=resolved)


async def _resolve_one(
    session: AsyncSession, rule: Rule, initiator: str | None, department: str | None
) -> ResolvedRule:
    text = str(rule)
    if rule.kind == "user":
        user = await repo.get_user(session, rule.name or "")
        if user is None or not user.active:
            return ResolvedRule(rule=text, users=[], note=f"no active user {rule.name!r}")
        return ResolvedRule(rule=text, users=[user.username])
    if rule.kind == "role":
        return _listed(text, await repo.holders_of(session, rule.name or ""), "nobody holds it")
    if rule.kind == "field":
        return ResolvedRule(rule=text, users=[], note="resolved from the form at run time")
    if rule.kind == "department":
        holders = await repo.holders_of(session, rule.name or "", department=rule.department)
        return _listed(text, holders, "nobody in that department holds the role")
    if initiator is None:
        return ResolvedRule(rule=text, users=[], note="depends on the initiator")
    if rule.kind == "initiator":
        return ResolvedRule(rule=text, users=[initiator])
    if department is None:
        return ResolvedRule(rule=text, users=[], note="the initiator belongs to no department")
    if rule.kind == "department-role":
        holders = await repo.holders_of(session, rule.name or "", department=department)
        return _listed(text, holders, "nobody in the initiator's department holds the role")
    managers: list[str] = []
    for row in await repo.ancestors(session, department, MAX_DEPARTMENT_DEPTH):
        if row.manager and row.manager != initiator and row.manager not in managers:
            managers.append(row.manager)
    if len(managers) < rule.levels:
        return ResolvedRule(rule=text, users=[], note="no manager at that level")
    return ResolvedRule(rule=text, users=[managers[rule.levels - 1]])


def _listed(text: str, users: list[str], note: str) -> ResolvedRule:
    return ResolvedRule(rule=text, users=users, note=None if users else note)
