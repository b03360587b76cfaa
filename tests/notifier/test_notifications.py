"""Who hears about what: runtime events turned into in-app notifications, through the real
consumers and handlers against PostgreSQL, read back through the inbox API."""

from __future__ import annotations

from tests.notifier.conftest import PUBLIC_URL
from tests.notifier.support import (
    Instance,
    ago,
    department_deleted,
    department_upserted,
    user_deleted,
    user_upserted,
)


async def _titles(notifier, username: str) -> list[str]:
    return [item["title"] for item in (await notifier.inbox(username))["items"]]


async def test_assigned_task_notifies_the_assignee_only(notifier):
    await notifier.deliver(
        user_upserted("carol", roles=["finance_reviewer"]),
        user_upserted("erin", roles=["finance_reviewer"]),
    )
    run = Instance()
    event = run.task_created(
        "Finance review", assignee="carol", candidate_roles=["finance_reviewer"]
    )
    assert await notifier.deliver(event) == ["handled"]

    [item] = (await notifier.inbox("carol"))["items"]
    task_id = event.data["task_id"]
    assert item["kind"] == "task_assigned"
    assert item["title"] == "New task: Finance review"
    assert "expense-reimbursement" in item["body"]
    assert "EXP-2026-042" in item["body"]
    assert "2026-03-03 17:30 UTC" in item["body"]
    assert item["link"] == f"{PUBLIC_URL}/tasks/{task_id}"
    assert item["task_id"] == task_id and item["instance_id"] == run.id
    assert item["read_at"] is None and item["actionable"] is True
    assert item["data"]["due_at"] == "2026-03-03T17:30:00Z"
    assert await _titles(notifier, "erin") == [], (
        "a role holder hears nothing about an assigned task"
    )


async def test_offered_task_reaches_candidate_users_and_active_role_holders(notifier):
    await notifier.deliver(
        user_upserted("carol", roles=["finance_reviewer"]),
        user_upserted("dave", roles=["finance_director", "finance_reviewer"]),
        user_upserted("erin", roles=["cashier"]),
        user_upserted("frank", roles=["finance_reviewer"], active=False),
        user_upserted("bob", roles=["sales_manager"]),
    )
    event = Instance().task_created(candidate_users=["bob"], candidate_roles=["finance_reviewer"])
    assert await notifier.deliver(event) == ["handled"]

    for person in ("bob", "carol", "dave"):
        [item] = (await notifier.inbox(person))["items"]
        assert item["kind"] == "task_offered"
        assert item["title"] == "New task: Finance review"
    assert await _titles(notifier, "erin") == [], "no candidate role"
    assert await _titles(notifier, "frank") == [], "inactive people are skipped"


async def test_inactive_assignee_hears_nothing(notifier):
    await notifier.deliver(user_upserted("carol", active=False))
    await notifier.deliver(Instance().task_created(assignee="carol"))
    assert await _titles(notifier, "carol") == []


async def test_notifications_speak_the_recipients_language(notifier):
    await notifier.deliver(
        user_upserted("carol", roles=["finance_reviewer"], locale="zh-CN"),
        user_upserted("dave", roles=["finance_reviewer"], locale="en"),
    )
    await notifier.deliver(Instance().task_created(candidate_roles=["finance_reviewer"]))
    [zh] = (await notifier.inbox("carol"))["items"]
    assert zh["title"] == "新任务：Finance review"
    assert (
        "流程：expense-reimbursement" in zh["body"]
        and "截止时间：2026-03-03 17:30 UTC" in zh["body"]
    )
    assert zh["locale"] == "zh-CN"
    assert await _titles(notifier, "dave") == ["New task: Finance review"]


async def test_the_same_event_twice_makes_one_notification(notifier):
    await notifier.deliver(user_upserted("carol"))
    event = Instance().task_created(assignee="carol")
    assert await notifier.deliver(event, event) == ["handled", "duplicate"]
    assert len((await notifier.inbox("carol"))["items"]) == 1


async def test_organisation_events_out_of_order_keep_the_newest(notifier):
    # the deactivation (sequence 3) arrives before the older upserts, and one of them twice
    await notifier.deliver(
        user_upserted("carol", sequence=3, roles=["finance_reviewer"], active=False),
        user_upserted("carol", sequence=2, roles=["finance_reviewer"], active=True),
        user_upserted("carol", sequence=1, roles=["finance_reviewer"], active=True),
        user_upserted("dave", sequence=2, roles=["finance_reviewer"], locale="zh-CN"),
        user_upserted("dave", sequence=1, roles=["cashier"], locale="en"),
    )
    await notifier.deliver(Instance().task_created(candidate_roles=["finance_reviewer"]))
    assert await _titles(notifier, "carol") == [], "the newest state says carol is inactive"
    assert await _titles(notifier, "dave") == ["新任务：Finance review"]


async def test_deleted_user_stays_deleted_when_an_older_upsert_arrives_late(notifier):
    await notifier.deliver(
        user_upserted("carol", sequence=1, roles=["finance_reviewer"]),
        user_deleted("carol", sequence=3),
        user_upserted("carol", sequence=2, roles=["finance_reviewer"]),
        department_upserted("finance", sequence=2, manager="dave"),
        department_deleted("finance", sequence=1),
    )
    await notifier.deliver(Instance().task_created(candidate_roles=["finance_reviewer"]))
    assert await _titles(notifier, "carol") == []
    # a newer upsert (the user was re-created) brings the person back
    await notifier.deliver(user_upserted("carol", sequence=4, roles=["finance_reviewer"]))
    await notifier.deliver(
        Instance().task_created("Cashier payment", candidate_roles=["finance_reviewer"])
    )
    assert await _titles(notifier, "carol") == ["New task: Cashier payment"]


async def test_person_not_yet_known_is_waited_for_then_notified_in_app(notifier):
    run = Instance()
    fresh = run.task_created(assignee="gina")
    assert await notifier.deliver(fresh) == ["retry"], "gina's user event may still be on its way"
    assert await _titles(notifier, "gina") == []

    stale = run.task_created("Archive", assignee="gina", time=ago(minutes=5))
    assert await notifier.deliver(stale) == ["handled"]
    [item] = (await notifier.inbox("gina"))["items"]
    assert item["title"] == "New task: Archive" and item["locale"] == "en"


async def test_completed_or_cancelled_task_is_no_longer_actionable(notifier):
    await notifier.deliver(user_upserted("carol"), user_upserted("dave"))
    run = Instance()
    first = run.task_created("Finance review", assignee="carol")
    second = run.task_created("Director approval", assignee="dave")
    await notifier.deliver(first, second)

    await notifier.deliver(
        run.task_completed(first.data["task_id"]), run.task_cancelled(second.data["task_id"])
    )
    for person in ("carol", "dave"):
        [item] = (await notifier.inbox(person))["items"]
        assert item["actionable"] is False and item["resolved_at"] is not None
        assert item["read_at"] is None, "resolving is not reading"


async def test_task_created_arriving_after_its_completion_notifies_nobody(notifier):
    await notifier.deliver(user_upserted("carol"))
    run = Instance()
    created = run.task_created(assignee="carol")
    await notifier.deliver(run.task_completed(created.data["task_id"]))
    assert await notifier.deliver(created) == ["handled"]
    assert await _titles(notifier, "carol") == []


async def test_initiator_hears_that_the_process_completed(notifier):
    await notifier.deliver(user_upserted("alice", locale="zh-CN"), user_upserted("carol"))
    run = Instance(initiator="alice", business_key="EXP-7")
    task = run.task_created(assignee="carol")
    await notifier.deliver(task, run.task_completed(task.data["task_id"]), run.completed())

    [item] = (await notifier.inbox("alice"))["items"]
    assert item["kind"] == "instance_completed"
    assert item["title"] == "流程已完成：expense-reimbursement"
    assert "业务编号：EXP-7" in item["body"]
    assert item["link"] == f"{PUBLIC_URL}/process-instances/{run.id}"
    assert item["actionable"] is False


async def test_event_with_invalid_data_is_dead_lettered(notifier):
    run = Instance()
    event = run.task_created(assignee="carol")
    del event.data["task_id"]
    assert await notifier.deliver(event) == ["dead"]
