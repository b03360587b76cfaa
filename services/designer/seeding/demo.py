"""The demo organisation and process of the embedded default (`BPM_DESIGNER_SEED_DEMO=true`).

Seeding runs when the service starts, in one transaction under an advisory lock,
so replicas starting together seed once. It only adds what is missing: a
department, user or role that exists (or was deleted) stays as an administrator
left it; a demo user without a password gets `BPM_DEMO_PASSWORD`; the demo process
is installed from its template (forms and dictionaries included) and published
when no version of its key exists.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.auth import ADMIN, DESIGNER
from bpm_common.events.outbox import EventWriter
from bpm_common.logging import get_logger
from services.designer.auth.passwords import hash_password
from services.designer.definitions import repository as definition_repo
from services.designer.definitions.parsing import Limits
from services.designer.org import repository as org_repo
from services.designer.org import service as org
from services.designer.org.schemas import DepartmentIn, RoleIn, UserIn
from services.designer.settings import DesignerSettings
from services.designer.templates import service as templates

log = get_logger(__name__)

SEED_LOCK = 0x0B9D_5EED
SEED_ACTOR = "system"
DEMO_PROCESSES = {"expense-reimbursement": "expense-reimbursement"}
"""Process key → the template it is installed from (with its forms and dictionaries)."""

DEMO_ROLES: dict[str, str] = {
    "finance_reviewer": "Reviews expense claims in finance.",
    "finance_director": "Approves large expenses.",
    "cashier": "Pays approved claims.",
}


@dataclass(frozen=True, slots=True)
class DemoDepartment:
    key: str
    name: str
    manager: str


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    display_name: str
    department: str | None = None
    roles: tuple[str, ...] = ()
    locale: str = "en"


DEMO_DEPARTMENTS = (
    DemoDepartment("sales", "Sales", manager="bob"),
    DemoDepartment("finance", "Finance", manager="dave"),
)
DEMO_USERS = (
    DemoUser("alice", "Alice", "sales"),
    DemoUser("bob", "Bob", "sales"),
    DemoUser("carol", "Carol", "finance", ("finance_reviewer",), locale="zh-CN"),
    DemoUser("dave", "Dave", "finance", ("finance_director",)),
    DemoUser("erin", "Erin", "finance", ("cashier",)),
    DemoUser("admin", "Administrator", roles=(ADMIN,)),
    DemoUser("designer", "Process Designer", roles=(DESIGNER,)),
)


@dataclass
class SeedResult:
    """What one seeding run added (for logs and tests)."""

    departments: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)


async def seed_on_startup(ctx: ServiceContext) -> None:
    """Start-up hook: seed when the settings ask for it."""
    settings = cast(DesignerSettings, ctx.settings)
    if not settings.seed_demo:
        return
    async with ctx.db.transaction() as session:
        result = await seed_demo(session, ctx.events, settings)
    log.info(
        "demo_seeded",
        departments=result.departments,
        users=result.users,
        logins_enabled=result.passwords,
        processes=result.processes,
    )


async def seed_demo(
    session: AsyncSession, events: EventWriter, settings: DesignerSettings
) -> SeedResult:
    """Add whatever of the demo is missing, in the caller's transaction."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEED_LOCK})
    result = SeedResult()
    for name, description in DEMO_ROLES.items():
        if await org_repo.get_role(session, name) is None:
            await org.put_role(session, name, RoleIn(description=description))
    for department in DEMO_DEPARTMENTS:
        if await org_repo.get_department(session, department.key, include_deleted=True) is None:
            await org.put_department(
                session, events, department.key, DepartmentIn(name=department.name)
            )
            result.departments.append(department.key)
    await _seed_users(session, events, settings, result)
    for department in DEMO_DEPARTMENTS:
        # managers only for departments this run created, and only if the user is there
        if department.key in result.departments and await org_repo.get_user(
            session, department.manager
        ):
            body = DepartmentIn(name=department.name, manager=department.manager)
            await org.put_department(session, events, department.key, body)
    limits = Limits(max_bytes=settings.max_bpmn_bytes, max_depth=settings.max_bpmn_depth)
    for key, template in DEMO_PROCESSES.items():
        if not await definition_repo.key_exists(session, key):
            await templates.install(
                session, events, template, publish=True, actor=SEED_ACTOR, limits=limits
            )
            result.processes.append(key)
    return result


async def _seed_users(
    session: AsyncSession, events: EventWriter, settings: DesignerSettings, result: SeedResult
) -> None:
    password = settings.demo_password.get_secret_value()
    n = settings.password_scrypt_n
    for demo in DEMO_USERS:
        user = await org_repo.get_user(
            session, demo.username, for_update=True, include_deleted=True
        )
        if user is not None and user.deleted_at is not None:
            continue  # deleted by an administrator: it stays deleted
        if user is None:
            department = demo.department
            if department and await org_repo.get_department(session, department) is None:
                department = None  # deleted by an administrator
            body = UserIn(
                display_name=demo.display_name,
                email=f"{demo.username}@demo.local",
                department=department,
                roles=list(demo.roles),
                locale=demo.locale,  # type: ignore[arg-type]
            )
            view, _ = await org.put_user(session, events, demo.username, body, scrypt_n=n)
            user = view.user
            result.users.append(demo.username)
        if user.password_hash is None and password:
            user.password_hash = await asyncio.to_thread(hash_password, password, n=n)
            result.passwords.append(demo.username)
    await session.flush()
