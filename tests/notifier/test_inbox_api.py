"""The inbox API: each person pages through and marks only their own notifications."""

from __future__ import annotations

import uuid

from tests.notifier.support import Instance, user_upserted


async def _notify_carol(notifier, *names: str) -> list[str]:
    """An assigned task per name for carol, one for dave; carol's notification ids, newest first."""
    await notifier.deliver(user_upserted("carol"), user_upserted("dave"))
    run = Instance()
    for name in names:
        await notifier.deliver(run.task_created(name, assignee="carol"))
    await notifier.deliver(run.task_created("Dave's own", assignee="dave"))
    return [item["id"] for item in (await notifier.inbox("carol"))["items"]]


async def test_inbox_pages_newest_first_with_an_opaque_cursor(notifier):
    await _notify_carol(notifier, "Step 1", "Step 2", "Step 3", "Step 4", "Step 5")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await notifier.inbox("carol", **params)
        seen += [item["title"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"New task: Step {n}" for n in (5, 4, 3, 2, 1)]


async def test_marking_one_read(notifier):
    newest, older = (await _notify_carol(notifier, "Step 1", "Step 2"))[:2]
    client = notifier.client
    response = await client.post(
        f"/api/v1/notifications/{older}/read", headers=client.as_user("carol")
    )
    assert response.status_code == 200, response.text
    first_read = response.json()["read_at"]
    assert first_read is not None

    again = await client.post(
        f"/api/v1/notifications/{older}/read", headers=client.as_user("carol")
    )
    assert again.json()["read_at"] == first_read, "reading twice keeps the first time"

    unread = await notifier.inbox("carol", unread="true")
    assert [item["id"] for item in unread["items"]] == [newest]
    count = await client.get("/api/v1/notifications/unread-count", headers=client.as_user("carol"))
    assert count.json() == {"unread": 1}


async def test_marking_several_or_all_read_answers_the_count(notifier):
    ids = await _notify_carol(notifier, "Step 1", "Step 2", "Step 3")
    client = notifier.client
    some = await client.post(
        "/api/v1/notifications/read", json={"ids": ids[:2]}, headers=client.as_user("carol")
    )
    assert some.status_code == 200, some.text
    assert some.json() == {"marked": 2}
    everything = await client.post(
        "/api/v1/notifications/read", json={"all": True}, headers=client.as_user("carol")
    )
    assert everything.json() == {"marked": 1}
    assert (await notifier.inbox("carol", unread="true"))["items"] == []
    assert len((await notifier.inbox("dave", unread="true"))["items"]) == 1, "dave's stay unread"


async def test_nobody_sees_or_marks_someone_elses_notifications(notifier):
    [carols] = await _notify_carol(notifier, "Step 1")
    client = notifier.client
    assert [i["title"] for i in (await notifier.inbox("dave"))["items"]] == ["New task: Dave's own"]

    response = await client.post(
        f"/api/v1/notifications/{carols}/read", headers=client.as_user("dave")
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    bulk = await client.post(
        "/api/v1/notifications/read", json={"ids": [carols]}, headers=client.as_user("dave")
    )
    assert bulk.json() == {"marked": 0}
    assert (await notifier.inbox("carol", unread="true"))["items"][0]["id"] == carols

    missing = await client.post(
        f"/api/v1/notifications/{uuid.uuid4()}/read", headers=client.as_user("carol")
    )
    assert missing.status_code == 404


async def test_the_inbox_needs_a_token(notifier):
    response = await notifier.client.get("/api/v1/notifications")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_invalid_requests_name_the_field_at_fault(notifier):
    client = notifier.client
    carol = client.as_user("carol")

    async def problem(response) -> set[str]:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return {e["field"] for e in response.json()["errors"]}

    assert await problem(
        await client.get("/api/v1/notifications", params={"cursor": "nope"}, headers=carol)
    ) == {"cursor"}
    assert await problem(
        await client.get("/api/v1/notifications", params={"limit": 0}, headers=carol)
    ) == {"limit"}
    assert await problem(
        await client.post("/api/v1/notifications/read", json={}, headers=carol)
    ) == {"ids"}
    assert await problem(
        await client.post(
            "/api/v1/notifications/read", json={"ids": [], "all": True}, headers=carol
        )
    ) == {"all"}
    assert await problem(
        await client.post("/api/v1/notifications/read", json={"all": False}, headers=carol)
    ) == {"all"}
    assert await problem(
        await client.post("/api/v1/notifications/read", json={"ids": ["x"]}, headers=carol)
    ) == {"ids.0"}
    assert await problem(
        await client.post("/api/v1/notifications/not-a-uuid/read", headers=carol)
    ) == {"notification_id"}


async def test_delivery_log_is_for_administrators(notifier):
    await _notify_carol(notifier, "Step 1")
    client = notifier.client
    forbidden = await client.get(
        "/api/v1/deliveries", headers=client.as_user("carol", "finance_reviewer")
    )
    assert forbidden.status_code == 403
    deliveries = await notifier.deliveries(recipient="carol")
    assert [(d["channel"], d["status"], d["attempts"]) for d in deliveries] == [
        ("in_app", "sent", 1)
    ]
    bad = await client.get(
        "/api/v1/deliveries", params={"status": "lost"}, headers=client.as_user("admin", "admin")
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
