"""Publishing live and on trial, refusals, rollback, deprecation, and the events they emit."""

from __future__ import annotations

import base64
import datetime as dt
import gzip

from bpm_common.events.envelope import Event
from bpm_common.events.outbox import OutboxRelay
from bpm_common.events.streams import stream_name, stream_subjects
from tests.designer.conftest import (
    ADMIN,
    DESIGNER,
    EMPLOYEE,
    SIMPLE,
    TEMPLATE,
    events,
    linear,
    process_xml,
    upload,
)


async def publish(
    client, definition_id: str, body: dict | None = None, user: tuple[str, ...] = DESIGNER
):
    return await client.post(
        f"/api/v1/definitions/{definition_id}/publish",
        json={} if body is None else body,
        headers=client.as_user(*user),
    )


async def add_role(client, name: str) -> None:
    response = await client.put(
        f"/api/v1/org/roles/{name}", json={"description": name}, headers=client.as_user(*ADMIN)
    )
    assert response.status_code in (200, 201), response.text


EXPENSE_FORM = {
    "schema": {
        "type": "object",
        "required": ["amount"],
        "properties": {"amount": {"type": "number", "exclusiveMinimum": 0}},
    },
    "ui_schema": {"amount": {"ui:autofocus": True}},
    "rules": [{"expression": "${amount < 100000}", "message": "too much", "fields": ["amount"]}],
}


async def test_publish_live_emits_the_definition_with_its_exact_bytes_and_forms(client, db):
    data = TEMPLATE.read_bytes()
    created = (await upload(client, data)).json()
    missing = await publish(client, created["id"])
    assert missing.status_code == 422
    assert missing.json()["errors"] == [
        {
            "rule": "form-reference",
            "severity": "error",
            "element_id": "StartEvent_Submitted",
            "message": "the form form:expense is not defined for this version",
        }
    ]
    form = await client.put(
        f"/api/v1/definitions/{created['id']}/forms/expense",
        json=EXPENSE_FORM,
        headers=client.as_user(*DESIGNER),
    )
    assert form.status_code == 201, form.text
    response = await publish(client, created["id"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in ("id", "key", "version", "status")} == {
        "id": created["id"],
        "key": "expense-reimbursement",
        "version": 1,
        "status": "published",
    }

    [event] = await events(db, "bpm.designer.definition.")
    assert event.type == "bpm.designer.definition.published"
    assert event.source == "designer"
    assert event.subject == created["id"]
    assert event.sequence == 1
    data_out = event.data
    assert {
        k: data_out[k]
        for k in ("id", "key", "version", "name", "status", "trial_roles", "published_by")
    } == {
        "id": created["id"],
        "key": "expense-reimbursement",
        "version": 1,
        "name": "Expense reimbursement",
        "status": "published",
        "trial_roles": [],
        "published_by": "dora",
    }
    assert data_out["published_at"].endswith("Z")
    assert gzip.decompress(base64.b64decode(data_out["bpmn_gzip_b64"])) == data
    assert data_out["forms"] == {"form:expense": EXPENSE_FORM}

    detail = (
        await client.get(f"/api/v1/definitions/{created['id']}", headers=client.as_user(*EMPLOYEE))
    ).json()
    assert detail["status"] == "published"
    assert detail["live"] is True
    assert detail["published_by"] == "dora"


async def test_the_published_event_reaches_the_designer_stream_through_the_relay(client, db):
    created = (await upload(client, SIMPLE)).json()
    await publish(client, created["id"])
    ctx = client.app.state.ctx
    relay = OutboxRelay(
        db,
        ctx.broker,
        ctx.events,
        service="designer",
        stream=stream_name("bpm", "designer"),
        stream_subjects=stream_subjects("bpm", "designer"),
    )
    await ctx.broker.ensure_stream(relay.stream, relay.stream_subjects)
    assert await relay.publish_once() == 1
    [message] = ctx.broker.messages("BPM_DESIGNER")
    assert message.subject == "bpm.designer.definition.published"
    assert Event.from_json(message.data).data["id"] == created["id"]


async def test_publish_on_trial_for_roles(client, db):
    await add_role(client, "finance_reviewer")
    created = (await upload(client, SIMPLE)).json()
    response = await publish(
        client, created["id"], {"mode": "trial", "trial_roles": ["finance_reviewer"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "trial"
    [event] = await events(db, "bpm.designer.definition.")
    assert event.data["status"] == "trial"
    assert event.data["trial_roles"] == ["finance_reviewer"]
    listed = (
        await client.get(
            "/api/v1/definitions", params={"status": "trial"}, headers=client.as_user(*EMPLOYEE)
        )
    ).json()
    assert [i["id"] for i in listed["items"]] == [created["id"]]
    assert listed["items"][0]["live"] is False

    live = await publish(client, created["id"])
    assert live.json()["status"] == "published"
    assert live.json()["trial_roles"] == []


async def test_trial_needs_known_roles(client, db):
    created = (await upload(client, SIMPLE)).json()
    missing = await publish(client, created["id"], {"mode": "trial"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "trial_roles"
    empty = await publish(client, created["id"], {"mode": "trial", "trial_roles": []})
    assert empty.status_code == 422
    unknown = await publish(client, created["id"], {"mode": "trial", "trial_roles": ["nobody"]})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "trial_roles[0]"
    live_with_roles = await publish(client, created["id"], {"trial_roles": ["admin"]})
    assert live_with_roles.status_code == 422
    unknown_mode = await publish(client, created["id"], {"mode": "beta"})
    assert unknown_mode.status_code == 422
    assert await events(db, "bpm.designer.definition.") == []


async def test_a_definition_with_lint_errors_is_refused_with_the_findings(client, db):
    created = (await upload(client, process_xml(linear('<bpmn:userTask id="t1"/>')))).json()
    response = await publish(client, created["id"])
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"] == [
        {
            "rule": "user-task-assignment",
            "severity": "error",
            "element_id": "t1",
            "message": problem["errors"][0]["message"],
            "line": problem["errors"][0]["line"],
        }
    ]
    detail = (
        await client.get(f"/api/v1/definitions/{created['id']}", headers=client.as_user(*EMPLOYEE))
    ).json()
    assert detail["status"] == "draft"
    assert await events(db, "bpm.designer.definition.") == []


async def test_a_not_executable_definition_is_refused(client, db):
    created = (await upload(client, process_xml(linear(), executable=False))).json()
    response = await publish(client, created["id"])
    assert response.status_code == 422
    assert [(e["rule"], e["element_id"]) for e in response.json()["errors"]] == [
        ("executable-process", "p1")
    ]
    assert await events(db, "bpm.designer.definition.") == []


async def test_publishing_an_older_version_again_makes_it_live_again(client, db):
    v1 = (await upload(client, SIMPLE)).json()
    v2 = (await upload(client, SIMPLE)).json()
    first = (await publish(client, v1["id"])).json()
    await publish(client, v2["id"])
    reader = client.as_user(*EMPLOYEE)

    def live_versions(page: dict) -> list[int]:
        return [i["version"] for i in page["items"] if i["live"]]

    assert live_versions(
        (await client.get("/api/v1/definitions", params={"key": "p1"}, headers=reader)).json()
    ) == [2]

    rollback = await publish(client, v1["id"])
    assert rollback.status_code == 200
    assert rollback.json()["status"] == "published"
    assert dt.datetime.fromisoformat(rollback.json()["published_at"]) > dt.datetime.fromisoformat(
        first["published_at"]
    )
    assert live_versions(
        (await client.get("/api/v1/definitions", params={"key": "p1"}, headers=reader)).json()
    ) == [1]

    emitted = await events(db, "bpm.designer.definition.")
    assert [(e.data["version"], e.sequence) for e in emitted] == [(1, 1), (2, 1), (1, 2)]
    assert emitted[2].data["published_at"] == rollback.json()["published_at"].replace("+00:00", "Z")


async def test_deprecate(client, db):
    created = (await upload(client, SIMPLE)).json()
    draft = await client.post(
        f"/api/v1/definitions/{created['id']}/deprecate", headers=client.as_user(*DESIGNER)
    )
    assert draft.status_code == 409
    await publish(client, created["id"])
    response = await client.post(
        f"/api/v1/definitions/{created['id']}/deprecate", headers=client.as_user(*DESIGNER)
    )
    assert response.status_code == 200
    assert response.json()["status"] == "deprecated"
    emitted = await events(db, "bpm.designer.definition.")
    assert emitted[-1].type == "bpm.designer.definition.deprecated"
    assert emitted[-1].data == {"id": created["id"], "key": "p1", "version": 1}
    assert emitted[-1].sequence == 2
    trial_again = await publish(client, created["id"], {"mode": "trial", "trial_roles": ["admin"]})
    assert trial_again.status_code == 409


async def test_publishing_needs_the_designer_role(client, db):
    created = (await upload(client, SIMPLE)).json()
    assert (await publish(client, created["id"], user=EMPLOYEE)).status_code == 403
    no_token = await client.post(f"/api/v1/definitions/{created['id']}/publish", json={})
    assert no_token.status_code == 401
    assert (await publish(client, created["id"], user=ADMIN)).status_code == 200
    missing = await publish(client, "0190b7c5-0000-7000-8000-000000000000")
    assert missing.status_code == 404
