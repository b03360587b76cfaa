"""The business calendar API, and new due times following the calendar."""

from __future__ import annotations

import datetime as dt
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.runtime.tasks.models import tasks
from tests.runtime.test_assignment_rules import build_org
from tests.runtime.test_deadlines_jobs import start

ADMIN = ("admin", "admin")
LUNCH = {
    day: [["09:00", "12:00"], ["13:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
}


async def test_the_default_calendar_is_seeded(runtime):
    c = runtime.client
    page = (await c.get("/api/v1/calendars", headers=runtime.auth(*ADMIN))).json()
    [default] = page["items"]
    assert page["next_cursor"] is None
    assert default["name"] == "default" and default["timezone"] == "Asia/Shanghai"
    assert default["working_hours"]["mon"] == [["09:00", "18:00"]]
    assert default["working_hours"]["sat"] == [] and default["holidays"] == []
    one = await c.get(
        "/api/v1/calendars/default", headers=runtime.auth("designer", "process_designer")
    )
    assert one.status_code == 200 and one.json()["working_hours"] == default["working_hours"]


async def test_administrators_replace_calendars(runtime):
    c = runtime.client
    body = {
        "timezone": "Asia/Shanghai",
        "working_hours": LUNCH,
        "holidays": ["2025-10-01", "2025-10-02"],
        "extra_working_days": ["2025-09-28"],
    }
    response = await c.put("/api/v1/calendars/default", json=body, headers=runtime.auth(*ADMIN))
    assert response.status_code == 200, response.text
    saved = response.json()
    assert saved["working_hours"]["tue"] == [["09:00", "12:00"], ["13:00", "18:00"]]
    assert saved["working_hours"]["sun"] == []
    assert (saved["holidays"], saved["extra_working_days"], saved["updated_by"]) == (
        ["2025-10-01", "2025-10-02"],
        ["2025-09-28"],
        "admin",
    )
    created = await c.put(
        "/api/v1/calendars/berlin-office",
        json={**body, "timezone": "Europe/Berlin"},
        headers=runtime.auth(*ADMIN),
    )
    assert created.status_code == 200
    first = (await c.get("/api/v1/calendars?limit=1", headers=runtime.auth(*ADMIN))).json()
    assert [item["name"] for item in first["items"]] == ["berlin-office"]
    second = (
        await c.get(
            f"/api/v1/calendars?limit=1&cursor={first['next_cursor']}", headers=runtime.auth(*ADMIN)
        )
    ).json()
    assert [item["name"] for item in second["items"]] == ["default"] and second[
        "next_cursor"
    ] is None


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"timezone": "Mars/Olympus", "working_hours": LUNCH}, "timezone", "not a known time zone"),
        ({"timezone": "localtime", "working_hours": LUNCH}, "timezone", "not a known time zone"),
        (
            {"timezone": "UTC", "working_hours": {"mon": [["13:00", "09:00"]]}},
            "working_hours",
            "ends before it starts",
        ),
        (
            {"timezone": "UTC", "working_hours": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}},
            "working_hours",
            "overlap",
        ),
        (
            {"timezone": "UTC", "working_hours": {"funday": [["09:00", "18:00"]]}},
            "working_hours",
            "unknown weekday",
        ),
        ({"timezone": "UTC", "working_hours": {}}, "working_hours", "needs working hours"),
        (
            {
                "timezone": "UTC",
                "working_hours": LUNCH,
                "holidays": ["2025-10-01"],
                "extra_working_days": ["2025-10-01"],
            },
            "extra_working_days",
            "both a holiday and a working day",
        ),
    ],
)
async def test_invalid_calendars_are_refused_naming_the_field(runtime, body, field, message):
    response = await runtime.client.put(
        "/api/v1/calendars/default", json=body, headers=runtime.auth(*ADMIN)
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == field and message in error["message"]


async def test_only_administrators_write_and_readers_need_a_role(runtime):
    c = runtime.client
    body = {"timezone": "UTC", "working_hours": LUNCH}
    assert (
        await c.put(
            "/api/v1/calendars/default",
            json=body,
            headers=runtime.auth("designer", "process_designer"),
        )
    ).status_code == 403
    assert (await c.get("/api/v1/calendars", headers=runtime.auth("alice"))).status_code == 403
    assert (await c.get("/api/v1/calendars")).status_code == 401
    assert (await c.get("/api/v1/calendars/nope", headers=runtime.auth(*ADMIN))).status_code == 404
    assert (
        await c.put("/api/v1/calendars/bad name", json=body, headers=runtime.auth(*ADMIN))
    ).status_code == 422


async def test_new_due_times_follow_the_replaced_calendar(runtime):
    await build_org(runtime)
    every_hour = {
        day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    await runtime.client.put(
        "/api/v1/calendars/default",
        json={"timezone": "UTC", "working_hours": every_hour},
        headers=runtime.auth(*ADMIN),
    )
    _, task = await start(runtime, "deadlines-escalate.bpmn", "deadline-escalate")
    async with runtime.db.connection() as conn:
        row = (
            await conn.execute(
                select(tasks.c.created_at, tasks.c.due_at).where(tasks.c.id == UUID(task["id"]))
            )
        ).one()
    assert row.due_at == row.created_at + dt.timedelta(hours=4)


async def _due(runtime, task_id: str) -> dt.datetime:
    async with runtime.db.connection() as conn:
        return (await conn.execute(select(tasks.c.due_at).where(tasks.c.id == UUID(task_id)))).scalar_one()


async def test_a_department_calendar_counts_the_requests_of_its_department_and_those_below(runtime):
    await build_org(runtime)  # hq > sales > sales-east; hq > finance
    sundays_only = {"sun": [["10:00", "11:00"]]}  # a calendar no other could be mistaken for
    saved = await runtime.client.put(
        "/api/v1/calendars/sales-office",
        json={"timezone": "UTC", "working_hours": sundays_only, "departments": ["sales"]},
        headers=runtime.auth(*ADMIN),
    )
    assert saved.status_code == 200 and saved.json()["departments"] == ["sales"], saved.text

    for initiator in ("alice", "frank"):  # sales, and sales-east below it
        _, task = await start(runtime, "deadlines-escalate.bpmn", "deadline-escalate", initiator=initiator)
        due = await _due(runtime, task["id"])
        assert due.astimezone(dt.UTC).weekday() == 6 and dt.time(10) < due.astimezone(dt.UTC).time() <= dt.time(11)
    _, task = await start(runtime, "deadlines-escalate.bpmn", "deadline-escalate", initiator="carol")
    due = await _due(runtime, task["id"])  # finance: the default calendar, Shanghai's weekdays
    assert due.astimezone(ZoneInfo("Asia/Shanghai")).weekday() < 5


async def test_calendar_departments_must_exist_and_belong_to_one_calendar(runtime):
    await build_org(runtime)
    body = {"timezone": "UTC", "working_hours": LUNCH}
    c = runtime.client
    assert (await c.put("/api/v1/calendars/hq", json={**body, "departments": ["hq"]},
                        headers=runtime.auth(*ADMIN))).status_code == 200
    refused = await c.put(
        "/api/v1/calendars/mixed", json={**body, "departments": ["finance", "atlantis", "hq"]},
        headers=runtime.auth(*ADMIN),
    )
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["message"]) for e in refused.json()["errors"]] == [
        ("departments.1", "the organisation has no department 'atlantis'"),
        ("departments.2", "'hq' is already in the calendar 'hq'"),
    ]
    assert (await c.get("/api/v1/calendars/mixed", headers=runtime.auth(*ADMIN))).status_code == 404
    again = await c.put("/api/v1/calendars/hq", json={**body, "departments": ["hq", "finance", "hq"]},
                        headers=runtime.auth(*ADMIN))
    assert again.status_code == 200 and again.json()["departments"] == ["hq", "finance"]
