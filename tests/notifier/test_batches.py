"""Events handled in batches, one unit of work per batch, as the running consumer takes them
when they pile up: the outcome is the same as handling them one at a time."""

from __future__ import annotations

from sqlalchemy import text

from bpm_stack.embedded import free_port
from services.notifier.notifications.writes import PendingWrites
from tests.notifier.support import Instance, user_upserted
from tests.notifier.test_email import smtp_url


async def _titles(notifier, username: str) -> list[str]:
    return [item["title"] for item in (await notifier.inbox(username))["items"]]


async def test_a_batch_has_the_outcome_of_its_events_one_by_one(open_notifier):
    async with open_notifier(smtp_url=smtp_url(free_port())) as notifier:
        await notifier.deliver(
            user_upserted("alice", locale="zh-CN"),
            user_upserted("carol", roles=["finance_reviewer"]),
            user_upserted("dave", roles=["finance_reviewer"]),
        )
        run = Instance(initiator="alice")
        first = run.task_created("Finance review", candidate_roles=["finance_reviewer"])
        second = run.task_created("Director approval", assignee="dave")
        outcomes = await notifier.deliver_batch(
            first,
            run.task_completed(first.data["task_id"], actor="carol"),
            second,
            run.task_completed(second.data["task_id"], actor="dave", outcome="reject"),
            run.completed(result="rejected"),
        )
        assert outcomes == ["handled"] * 5

        assert await _titles(notifier, "carol") == ["New task: Finance review"]
        assert await _titles(notifier, "dave") == [
            "New task: Director approval",
            "New task: Finance review",
        ]
        assert await _titles(notifier, "alice") == ["已驳回：expense-reimbursement"], (
            "the rejection, and no second notice that the process ended"
        )
        for item in (await notifier.inbox("dave"))["items"]:
            assert item["actionable"] is False, "closed later in the same batch"

        emails = await notifier.deliveries(channel="email")
        assert sorted((d["recipient"], d["status"]) for d in emails) == [
            ("alice", "pending"),
            ("carol", "cancelled"),
            ("dave", "cancelled"),
            ("dave", "cancelled"),
        ], "emails about tasks closed before they went out are cancelled"


async def test_a_repeated_event_in_a_batch_notifies_once(notifier):
    await notifier.deliver(user_upserted("carol"))
    created = Instance().task_created(assignee="carol")
    assert await notifier.deliver_batch(created, created) == ["handled", "duplicate"]
    assert await _titles(notifier, "carol") == ["New task: Finance review"]
    assert [d["channel"] for d in await notifier.deliveries(recipient="carol")] == ["in_app"]


async def test_an_event_to_retry_leaves_the_others_of_its_batch_handled(notifier):
    await notifier.deliver(user_upserted("carol"))
    run = Instance()
    outcomes = await notifier.deliver_batch(
        run.task_created("Finance review", assignee="carol"),
        run.task_created("Archive", assignee="gina"),
    )
    assert outcomes == ["handled", "retry"], "gina's user event may still be on its way"
    assert await _titles(notifier, "carol") == ["New task: Finance review"]


async def test_each_batch_reads_people_and_channels_as_they_are_then(notifier):
    await notifier.deliver(user_upserted("carol"), user_upserted("dave"))
    run = Instance()
    outcomes = await notifier.deliver_batch(
        run.task_created("One", assignee="carol"), run.task_created("One", assignee="dave")
    )
    assert outcomes == ["handled", "handled"]

    await notifier.set_preferences("carol", language="zh-CN")
    await notifier.deliver(user_upserted("dave", sequence=2, active=False))
    await notifier.add_channel("team-hook", "json://127.0.0.1:9/h", default=True)
    outcomes = await notifier.deliver_batch(
        run.task_created("Two", assignee="carol"), run.task_created("Two", assignee="dave")
    )
    assert outcomes == ["handled", "handled"]

    assert await _titles(notifier, "carol") == ["新任务：Two", "New task: One"]
    assert await _titles(notifier, "dave") == ["New task: One"], "inactive since"
    channels = [(d["channel"], d["status"]) for d in await notifier.deliveries(recipient="carol")]
    assert sorted(channels) == [("in_app", "sent"), ("in_app", "sent"), ("team-hook", "pending")]


async def _open_tasks(notifier) -> list[str]:
    async with notifier.client.app.state.db.transaction() as session:
        return list((await session.execute(text("SELECT task_id FROM open_tasks"))).scalars())


async def test_a_task_closed_in_an_earlier_batch_is_neither_recorded_nor_told(notifier):
    await notifier.deliver(user_upserted("alice"), user_upserted("carol"))
    run = Instance(initiator="alice")
    created = run.task_created("Finance review", assignee="carol")
    assert await notifier.deliver(run.task_completed(created.data["task_id"])) == ["handled"]

    # its notification is made in the batch before the closure is seen: not written, and
    # the completion notice finds no business key in it
    assert await notifier.deliver_batch(created, run.completed()) == ["handled", "handled"]
    assert await _titles(notifier, "carol") == []
    assert await _open_tasks(notifier) == []
    [done] = (await notifier.inbox("alice"))["items"]
    assert done["kind"] == "instance_completed" and done["business_key"] is None


async def test_a_closed_task_waits_for_nobody_unknown(notifier):
    await notifier.deliver(user_upserted("carol"))
    run = Instance()
    created = run.task_created("Archive", assignee="gina")
    assert await notifier.deliver(run.task_completed(created.data["task_id"])) == ["handled"]
    outcomes = await notifier.deliver_batch(created, run.task_created("Pay", assignee="carol"))
    assert outcomes == ["handled", "handled"], "gina need not be known for a closed task"
    assert await _titles(notifier, "carol") == ["New task: Pay"]


async def test_an_open_task_read_later_in_its_batch_is_the_recorded_one(notifier):
    await notifier.deliver(user_upserted("alice"), user_upserted("carol"), user_upserted("dave"))
    run = Instance(initiator="alice")
    created = run.task_created("Finance review", assignee="carol")
    task_id = created.data["task_id"]
    outcomes = await notifier.deliver_batch(
        created,
        run.task_assigned(task_id, "dave", previous="carol", kind="transfer", actor="carol"),
        run.task_reminder("urged", task_id, actor="alice"),
    )
    assert outcomes == ["handled"] * 3
    assert await _titles(notifier, "dave") == ["Reminder: Finance review", "New task: Finance review"]
    assert [item["actionable"] for item in (await notifier.inbox("carol"))["items"]] == [False]
    assert await _open_tasks(notifier) == [task_id]


async def test_a_batch_whose_write_fails_is_handled_again_event_by_event(notifier, monkeypatch):
    """The writes of a batch go to the database as its unit of work commits: a failure there
    rolls the batch back and its events are handled one by one, as for a failing handler."""
    await notifier.deliver(user_upserted("alice"), user_upserted("carol"))
    flush, failures = PendingWrites.flush, []

    async def failing_once(self):
        if not failures:
            failures.append(True)
            raise ConnectionResetError("connection lost")
        await flush(self)

    monkeypatch.setattr(PendingWrites, "flush", failing_once)
    run = Instance(initiator="alice")
    created = run.task_created("Finance review", assignee="carol")
    outcomes = await notifier.deliver_batch(
        created, run.task_completed(created.data["task_id"], actor="carol", outcome="reject")
    )
    assert failures and outcomes == ["handled", "handled"]
    assert await _titles(notifier, "carol") == ["New task: Finance review"]
    assert [i["actionable"] for i in (await notifier.inbox("carol"))["items"]] == [False]
    assert await _titles(notifier, "alice") == ["Rejected: expense-reimbursement"]
