"""Approval operations, deadlines, copies and incidents: who hears each, in what words,
driven by the runtime's events (docs/events.md) through the real consumer."""

from __future__ import annotations

from tests.notifier.conftest import PUBLIC_URL
from tests.notifier.support import Instance, department_upserted, user_upserted


async def _inbox(notifier, username: str) -> list[dict]:
    return (await notifier.inbox(username))["items"]


async def _kinds(notifier, username: str) -> list[str]:
    return [item["kind"] for item in await _inbox(notifier, username)]


async def _people(notifier) -> None:
    await notifier.deliver(
        department_upserted("sales", manager="bob"),
        user_upserted("bob", department="sales"),
        user_upserted("alice", department="sales"),
        user_upserted("carol", roles=["finance_reviewer"], department="finance"),
        user_upserted("dave", roles=["finance_reviewer"], locale="zh-CN", department="finance"),
        user_upserted("admin", roles=["admin"]),
        user_upserted("root", roles=["admin"], active=False),
    )


async def test_a_transferred_task_goes_to_its_new_assignee(notifier):
    await _people(notifier)
    run = Instance()
    created = run.task_created(assignee="carol")
    task_id = created.data["task_id"]
    await notifier.deliver(created)
    await notifier.deliver(
        run.task_assigned(task_id, "dave", previous="carol", kind="transfer", actor="carol")
    )
    [for_dave] = await _inbox(notifier, "dave")
    assert for_dave["kind"] == "task_assigned"
    assert for_dave["title"] == "新任务：Finance review"
    assert "carol 将任务“Finance review”转交给您" in for_dave["body"]
    assert "on leave" in for_dave["body"]
    [for_carol] = await _inbox(notifier, "carol")
    assert for_carol["actionable"] is False, "the task is no longer carol's"

    # claiming a task oneself tells nobody
    await notifier.deliver(
        run.task_assigned(task_id, "dave", previous=None, kind="claim", actor="dave")
    )
    assert len(await _inbox(notifier, "dave")) == 1


async def test_deadlines_and_urging_reach_whoever_may_work_the_task(notifier):
    await _people(notifier)
    run = Instance()
    created = run.task_created(candidate_roles=["finance_reviewer"])
    task_id = created.data["task_id"]
    await notifier.deliver(created)
    await notifier.deliver(
        run.task_reminder("due_soon", task_id, candidate_roles=["finance_reviewer"]),
        run.task_reminder("overdue", task_id, candidate_roles=["finance_reviewer"]),
        run.task_reminder(
            "urged", task_id, candidate_roles=["finance_reviewer"], actor="alice", message="!!"
        ),
    )
    assert await _kinds(notifier, "carol") == [
        "task_urged",
        "task_overdue",
        "task_due_soon",
        "task_offered",
    ]
    urged, overdue, due_soon, _ = await _inbox(notifier, "carol")
    assert urged["title"] == "Reminder: Finance review" and "alice asks you" in urged["body"]
    assert overdue["urgent"] is True and due_soon["urgent"] is False
    assert overdue["title"] == "Overdue: Finance review"
    assert (await _inbox(notifier, "dave"))[1]["title"] == "已超时：Finance review"
    assert await _kinds(notifier, "alice") == [], "the one who urges is not urged"

    await notifier.deliver(run.task_completed(task_id))
    assert not any(i["actionable"] for i in await _inbox(notifier, "carol"))
    await notifier.deliver(run.task_reminder("overdue", task_id, assignee="carol"))
    assert len(await _inbox(notifier, "carol")) == 4, "a closed task reminds nobody"


async def test_escalation_goes_to_those_named_or_else_the_assignees_manager(notifier):
    await _people(notifier)
    run = Instance()
    created = run.task_created(assignee="alice")
    task_id = created.data["task_id"]
    await notifier.deliver(created)
    await notifier.deliver(run.task_escalated(task_id, assignee="alice", escalated_to=[]))
    [escalated] = await _inbox(notifier, "bob")
    assert escalated["kind"] == "task_escalated" and escalated["urgent"] is True
    assert "of alice missed its deadline" in escalated["body"]

    await notifier.deliver(run.task_escalated(task_id, assignee="alice", escalated_to=["carol"]))
    assert await _kinds(notifier, "carol") == ["task_escalated"]
    assert len(await _inbox(notifier, "bob")) == 1


async def test_the_initiator_hears_of_rejection_return_and_the_end(notifier):
    await _people(notifier)
    run = Instance(initiator="alice", business_key="EXP-9")
    first = run.task_created(assignee="carol")
    await notifier.deliver(first)
    await notifier.deliver(run.task_returned(first.data["task_id"], actor="carol"))
    [returned] = await _inbox(notifier, "alice")
    assert returned["kind"] == "task_returned"
    assert returned["title"] == "Returned: expense-reimbursement"
    assert 'to "Submit expense"' in returned["body"] and "receipt missing" in returned["body"]
    assert returned["link"] == f"{PUBLIC_URL}/process-instances/{run.id}"

    second = run.task_created(assignee="carol")
    await notifier.deliver(second)
    await notifier.deliver(
        run.task_completed(second.data["task_id"], outcome="reject", comment="over budget"),
        run.completed(result="rejected"),
    )
    kinds = await _kinds(notifier, "alice")
    assert kinds == ["task_rejected", "task_returned"], "one message about the rejection"
    rejected = (await _inbox(notifier, "alice"))[0]
    assert rejected["title"] == "Rejected: expense-reimbursement"
    assert "carol rejected your request" in rejected["body"] and "over budget" in rejected["body"]


async def test_a_withdrawal_tells_the_people_whose_tasks_went(notifier):
    await _people(notifier)
    run = Instance(initiator="alice")
    await notifier.deliver(
        run.task_created("Finance review", candidate_roles=["finance_reviewer"]),
        run.task_created("Sales check", assignee="bob"),
    )
    await notifier.deliver(run.withdrawn())
    assert (await _inbox(notifier, "bob"))[0]["title"] == "Withdrawn: expense-reimbursement"
    assert (
        'your task "Sales check" is no longer needed' in (await _inbox(notifier, "bob"))[0]["body"]
    )
    assert (await _inbox(notifier, "dave"))[0]["title"] == "已撤回：expense-reimbursement"
    assert await _kinds(notifier, "alice") == [], "the initiator withdrew it themself"
    assert not any(i["actionable"] for i in await _inbox(notifier, "carol"))


async def test_copies_and_incidents(notifier):
    await _people(notifier)
    run = Instance(initiator="alice")
    await notifier.deliver(run.copied(["carol", "dave"]))
    [copy] = await _inbox(notifier, "carol")
    assert (
        copy["kind"] == "copied" and copy["title"] == "For your information: expense-reimbursement"
    )
    assert (await _inbox(notifier, "dave"))[0]["title"] == "抄送：expense-reimbursement"

    await notifier.deliver(run.incident())
    [incident] = await _inbox(notifier, "admin")
    assert incident["kind"] == "incident" and incident["urgent"] is True
    assert "HTTP call to ERP failed: 503" in incident["body"]
    assert await _kinds(notifier, "root") == [], "inactive administrators are not told"
