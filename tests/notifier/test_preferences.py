"""Each person's preferences: channels per kind, language, quiet hours, the daily digest."""

from __future__ import annotations

import datetime as dt

from tests.notifier.conftest import ADMIN
from tests.notifier.receivers import Receiver
from tests.notifier.support import Instance, user_upserted


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_people_read_and_change_their_own_preferences_only(notifier):
    client = notifier.client
    await notifier.add_channel("team-hook", "json://127.0.0.1:9/h")
    mine = await client.get("/api/v1/notification-preferences", headers=client.as_user("carol"))
    assert mine.status_code == 200
    assert mine.json()["username"] == "carol" and mine.json()["channels"] == {}
    assert mine.json()["available_channels"] == ["team-hook"], "no email without BPM_SMTP_URL"

    saved = await notifier.set_preferences(
        "carol",
        language="zh-CN",
        timezone="Asia/Shanghai",
        channels={"task_assigned": ["team-hook"], "*": []},
        chat_ids={"slack": "U024BE7LH"},
        quiet_hours={"start": "22:00", "end": "07:30"},
        digest={"enabled": True, "time": "08:00"},
    )
    assert saved["quiet_hours"] == {"start": "22:00:00", "end": "07:30:00"}
    assert saved["digest"] == {"enabled": True, "time": "08:00:00"}

    others = await client.get(
        "/api/v1/notification-preferences",
        params={"username": "dave"},
        headers=client.as_user("carol"),
    )
    assert others.status_code == 403
    by_admin = await client.get(
        "/api/v1/notification-preferences",
        params={"username": "carol"},
        headers=client.as_user(*ADMIN),
    )
    assert by_admin.json()["language"] == "zh-CN"

    bad = await client.put(
        "/api/v1/notification-preferences",
        json={
            "timezone": "Mars/Olympus",
            "channels": {"task_assigned": ["nowhere"], "gossip": []},
            "chat_ids": {"pager": "x"},
        },
        headers=client.as_user("carol"),
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {
        "timezone",
        "channels.task_assigned.0",
        "channels.gossip",
        "chat_ids.pager",
    }
    assert (await client.get("/api/v1/notification-preferences")).status_code == 401


async def test_channels_are_chosen_per_kind(open_notifier):
    with Receiver() as hook:
        async with open_notifier(smtp_url=None) as notifier:
            await notifier.add_channel("hook", f"json://127.0.0.1:{hook.port}/h", default=True)
            await notifier.deliver(user_upserted("carol"), user_upserted("dave"))
            await notifier.set_preferences("carol", channels={"task_offered": []})
            run = Instance()
            await notifier.deliver(run.task_created("Offered", candidate_users=["carol", "dave"]))
            await notifier.deliver(run.task_created("Mine", assignee="carol"))
            await notifier.dispatcher.run_once()
            sent = sorted((r.json["recipient"], r.json["title"]) for r in hook.requests)
            assert sent == [
                ("carol", "New task: Mine"),
                ("dave", "New task: Offered"),
            ], "carol wants offered tasks in the inbox only"


async def test_quiet_hours_hold_messages_until_they_end_but_not_urgent_ones(open_notifier):
    now = dt.datetime.now(dt.UTC)
    start = (now - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    with Receiver() as hook:
        async with open_notifier(smtp_url=None) as notifier:
            await notifier.add_channel("hook", f"json://127.0.0.1:{hook.port}/h", default=True)
            await notifier.deliver(user_upserted("carol"))
            await notifier.set_preferences(
                "carol",
                timezone="UTC",
                quiet_hours={"start": start.isoformat(), "end": end.isoformat()},
            )
            run = Instance()
            created = run.task_created(assignee="carol")
            await notifier.deliver(created)
            await notifier.deliver(
                run.task_reminder("overdue", created.data["task_id"], assignee="carol")
            )
            assert await notifier.dispatcher.run_once() == 1
            assert [r.json["kind"] for r in hook.requests] == ["task_overdue"], "urgent goes"
            [held] = await notifier.deliveries(channel="hook", status="held")
            assert held["next_attempt_at"] is not None
            ends = _at(held["next_attempt_at"])
            assert ends > now and ends.time().replace(second=0) == end
            assert (await notifier.inbox("carol"))["items"], "the inbox is not held"

            assert await notifier.dispatcher.run_once(now=ends) == 1
            assert [r.json["kind"] for r in hook.requests] == ["task_overdue", "task_assigned"]


async def test_the_daily_digest_replaces_single_task_messages(open_notifier):
    with Receiver() as hook:
        async with open_notifier(smtp_url=None) as notifier:
            await notifier.add_channel("hook", f"json://127.0.0.1:{hook.port}/h", default=True)
            await notifier.deliver(user_upserted("carol", roles=["finance_reviewer"]))
            await notifier.set_preferences("carol", digest={"enabled": True, "time": "00:00"})
            run = Instance()
            mine = run.task_created("Finance review", assignee="carol")
            offered = run.task_created("Cashier check", candidate_roles=["finance_reviewer"])
            other = run.task_created("Not hers", assignee="dave")
            done = run.task_created("Already done", assignee="carol")
            await notifier.deliver(user_upserted("dave"))
            await notifier.deliver(mine, offered, other, done)
            await notifier.deliver(run.task_completed(done.data["task_id"]))
            await notifier.dispatcher.run_once()
            assert [r.json["recipient"] for r in hook.requests] == ["dave"], "none for carol"
            assert len((await notifier.inbox("carol"))["items"]) == 3, "the inbox has them all"

            assert await notifier.digests.run_once() == 1
            assert await notifier.digests.run_once() == 0, "one digest a day"
            await notifier.dispatcher.run_once()
            [digest] = [r.json for r in hook.requests if r.json["recipient"] == "carol"]
            assert digest["kind"] == "digest" and digest["title"] == "Your open tasks: 2"
            assert "Finance review — expense-reimbursement" in digest["body"]
            assert "Cashier check" in digest["body"] and "Not hers" not in digest["body"]
            assert "Already done" not in digest["body"]
            [in_app] = (await notifier.inbox("carol", limit=1))["items"]
            assert in_app["kind"] == "digest"
