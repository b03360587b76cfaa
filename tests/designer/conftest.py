"""Fixtures of the designer's tests: the app on a rolled-back database, events from its outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select, text

from bpm_common.db import Database
from bpm_common.events.envelope import Event
from bpm_common.events.memory import MemoryBroker
from bpm_common.testing.plugin import ApiClient, common_settings, service_client, service_database
from services.designer.app import definition
from services.designer.definitions.models import Definition
from services.designer.main import create_app
from services.designer.settings import DesignerSettings

TEMPLATE = (
    Path(__file__).resolve().parents[2] / "services/designer/templates/expense-reimbursement.bpmn"
)
CORPUS = Path("/work/shared/corpus/bpmn-miwg")

# small scrypt cost keeps the password tests fast; the algorithm is the same
TEST_SCRYPT_N = 2**12

DESIGNER = ("dora", "process_designer")
ADMIN = ("ada", "admin")
EMPLOYEE = ("alice",)
SYSTEM = ("gateway", "system")


def designer_settings(pg_url: str, **overrides: Any) -> DesignerSettings:
    values: dict[str, Any] = {"password_scrypt_n": TEST_SCRYPT_N}
    values.update(overrides)
    return DesignerSettings(common=common_settings(pg_url), **values)


@pytest_asyncio.fixture
async def db(pg_url: str, run_prefix: str) -> AsyncIterator[Database]:
    sdb = await service_database(definition(), pg_url, run_prefix)
    async with sdb.rolled_back() as database:
        yield database


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to start the app with other settings."""
    return {}


@pytest_asyncio.fixture
async def client(
    db: Database, pg_url: str, token_for: Callable[..., str], settings_overrides: dict[str, Any]
) -> AsyncIterator[ApiClient]:
    app = create_app(designer_settings(pg_url, **settings_overrides), db=db, broker=MemoryBroker())
    async with service_client(app, token_for) as api:
        yield api


def xml_headers(client: ApiClient, *user: str) -> dict[str, str]:
    return {**client.as_user(*(user or DESIGNER)), "Content-Type": "application/xml"}


async def upload(client: ApiClient, data: bytes, *user: str, **params: str) -> Any:
    return await client.post(
        "/api/v1/definitions", content=data, headers=xml_headers(client, *user), params=params
    )


async def events(db: Database, type_prefix: str = "bpm.designer.") -> list[Event]:
    """Every event the designer wrote to its outbox, in order."""
    async with db.connection() as conn:
        rows = (await conn.execute(text("SELECT payload FROM outbox ORDER BY position"))).all()
    found = [Event.from_json(r.payload) for r in rows]
    return [e for e in found if e.type.startswith(type_prefix)]


async def definition_count(db: Database) -> int:
    async with db.connection() as conn:
        return (await conn.execute(select(func.count()).select_from(Definition))).scalar_one()


def process_xml(
    body: str,
    *,
    process_id: str = "p1",
    executable: bool = True,
    name: str = "Test process",
    extra: str = "",
) -> bytes:
    """A BPMN document with one process whose flow elements are `body`."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:activiti="http://activiti.org/bpmn"
    xmlns:flowable="http://flowable.org/bpmn"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
    id="defs" targetNamespace="http://example.com/test">
  <bpmn:process id="{process_id}" name="{name}" isExecutable="{str(executable).lower()}">
{body}
  </bpmn:process>
{extra}
</bpmn:definitions>
""".encode()


def linear(task: str = '<bpmn:userTask id="t1" name="Approve" camunda:assignee="bob"/>') -> str:
    """start → (task t1) → end."""
    return f"""
    <bpmn:startEvent id="start"/>
    {task}
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="t1"/>
    <bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="end"/>
    """


SIMPLE = process_xml(linear())
