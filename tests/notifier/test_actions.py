"""Approve/reject links of chat messages: signed, single-use, expiring; a click completes
the task through the gateway (a real local HTTP server stands in for it) as the person."""

from __future__ import annotations

import datetime as dt
import uuid

import jwt

from bpm_common.testing.plugin import TEST_JWT_SECRET
from tests.notifier.conftest import PUBLIC_URL
from tests.notifier.receivers import Receiver, Reply
from tests.notifier.support import Instance, user_upserted

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml"}


async def _links(notifier, hook: Receiver, *tasks: str) -> list[tuple[str, str, str]]:
    """(task id, approve path, reject path) of each new task of carol's, from the webhook."""
    run = Instance()
    events = [run.task_created(name, assignee="carol") for name in tasks]
    await notifier.deliver(*events)
    await notifier.dispatcher.run_once()
    by_task = {r.json["task_id"]: r.json for r in hook.requests}
    out = []
    for event in events:
        payload = by_task[event.data["task_id"]]
        approve = payload["approve_url"].removeprefix(PUBLIC_URL)
        reject = payload["reject_url"].removeprefix(PUBLIC_URL)
        out.append((event.data["task_id"], approve, reject))
    return out


async def test_one_click_approves_once_through_the_gateway(open_notifier):
    with Receiver() as gateway, Receiver() as hook:
        async with open_notifier(smtp_url=None, gateway_url=gateway.url) as notifier:
            await notifier.add_channel("erp", f"json://127.0.0.1:{hook.port}/h", default=True)
            await notifier.deliver(user_upserted("carol", roles=["finance_reviewer"]))
            [(task_id, approve, reject)] = await _links(notifier, hook, "Finance review")
            assert approve.startswith("/api/v1/notifications/actions/")
            client = notifier.client

            preview = await client.get(approve, headers=HTML)
            assert preview.status_code == 200
            assert preview.headers["content-type"].startswith("text/html")
            assert '<form method="post">' in preview.text and "Confirm: approve" in preview.text
            assert gateway.requests == [], "opening the link changes nothing"

            done = await client.post(approve, headers=JSON)
            assert done.status_code == 200, done.text
            assert done.json()["status"] == "completed" and done.json()["task_id"] == task_id
            [call] = gateway.requests
            assert (call.method, call.path) == ("POST", f"/api/v1/tasks/{task_id}/complete")
            assert call.json == {
                "variables": {},
                "comment": "approved from webhook",
                "outcome": "approve",
            }
            bearer = call.headers["Authorization"].removeprefix("Bearer ")
            claims = jwt.decode(
                bearer, TEST_JWT_SECRET, algorithms=["HS256"], audience="bpm-platform"
            )
            assert claims["sub"] == "carol" and claims["roles"] == ["finance_reviewer"]
            assert claims["exp"] - claims["iat"] <= 60, "a short-lived token"

            again = await client.post(approve, headers=JSON)
            assert again.status_code == 409 and again.json()["code"] == "used"
            other = await client.post(reject, headers=HTML)
            assert other.status_code == 409 and "Link already used" in other.text
            assert len(gateway.requests) == 1, "one message, one action"


async def test_tampered_expired_and_refused_links(open_notifier):
    with Receiver() as gateway, Receiver() as hook:
        async with open_notifier(smtp_url=None, gateway_url=gateway.url) as notifier:
            await notifier.add_channel("erp", f"json://127.0.0.1:{hook.port}/h", default=True)
            await notifier.deliver(user_upserted("carol", roles=["finance_reviewer"]))
            client = notifier.client
            (t1, approve1, _), (t2, approve2, reject2) = await _links(
                notifier, hook, "First", "Second"
            )

            head, _, signature = approve1.rpartition(".")
            tampered = f"{head}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
            bad = await client.post(tampered, headers=JSON)
            assert bad.status_code == 400 and bad.json()["code"] == "invalid"
            assert (
                await client.get("/api/v1/notifications/actions/not-a-token-at-all")
            ).status_code == 400

            old = notifier.runtime.signer.mint(
                link_id=uuid.uuid4(),
                username="carol",
                task_id=t1,
                outcome="approve",
                channel="webhook",
                now=dt.datetime.now(dt.UTC) - dt.timedelta(days=30),
            )
            expired = await client.get(f"/api/v1/notifications/actions/{old}", headers=HTML)
            assert expired.status_code == 410 and "Link expired" in expired.text

            # the gateway is unreachable / failing: nothing is used up
            gateway.reply(
                Reply(status=503), Reply(status=422, body=b'{"detail": "unknown field outcome"}')
            )
            down = await client.post(approve1, headers=JSON)
            assert down.status_code == 502
            refused = await client.post(approve1, headers=JSON)
            assert (
                refused.status_code == 422 and "unknown field outcome" in refused.json()["detail"]
            )
            works = await client.post(approve1, headers=JSON)
            assert works.status_code == 200, "the link still worked after those failures"

            # the runtime's permission check applies (the task went to someone else)
            gateway.reply(Reply(status=403, body=b'{"detail": "not your task"}'))
            forbidden = await client.post(reject2, headers=HTML)
            assert forbidden.status_code == 403 and "Not allowed" in forbidden.text
            assert (await client.post(approve2, headers=JSON)).status_code == 409
            assert [r.json["outcome"] for r in gateway.requests] == [
                "approve",
                "approve",
                "approve",
                "reject",
            ]
