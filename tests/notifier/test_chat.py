"""Chat and webhook channels through Apprise's own plugins, against real local servers:
each platform receives its own payload format, failures are retried or dead-lettered,
secrets stay out of answers and logs, and each channel keeps its rate."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import text

from tests.notifier.conftest import ADMIN, PUBLIC_URL
from tests.notifier.receivers import Recorded, Reply, closed_port
from tests.notifier.support import Instance, user_upserted

DINGTALK_TOKEN = "d1n9741k70k3n0000000000000000000000000000000000000000000000000001"  # noqa: S105 - a test robot token
WECOM_KEY = "w3c0m-b07-k3y-0001"
FEISHU_TOKEN = "f3154u-h00k-70k3n-0001"  # noqa: S105 - a test token
LARK_TOKEN = "1a4k-h00k-70k3n-0001"  # noqa: S105 - a test token
SLACK_HOOK = "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
SECRETS = (DINGTALK_TOKEN, WECOM_KEY, FEISHU_TOKEN, LARK_TOKEN, "TIiajkdnlazkcOXrIdevi7")


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _every_platform(notifier, net) -> None:
    await notifier.add_channel("finance-dingtalk", f"dingtalk://{DINGTALK_TOKEN}/", default=True)
    await notifier.add_channel("finance-wecom", f"wecombot://{WECOM_KEY}", default=True)
    await notifier.add_channel("finance-feishu", f"feishu://{FEISHU_TOKEN}", default=True)
    await notifier.add_channel("global-lark", f"lark://{LARK_TOKEN}", default=True)
    await notifier.add_channel("finance-slack", f"slack://{SLACK_HOOK}/", default=True)
    await notifier.add_channel(
        "finance-teams", f"workflows://127.0.0.1:{net.tls.port}/wf01/s1gn4tur3", default=True
    )
    await notifier.add_channel(
        "erp-webhook", f"json://127.0.0.1:{net.plain.port}/bpm/hook", default=True
    )


def _by_host(requests: list[Recorded]) -> dict[str, Recorded]:
    return {r.host: r for r in requests}


def _action_links(text: str) -> list[str]:
    return [
        part.split(")")[0].split("|")[0]
        for part in text.replace("<", "(").split("(")
        if part.startswith(f"{PUBLIC_URL}/api/v1/notifications/actions/")
    ]


async def test_a_task_reaches_every_platform_in_its_own_format(open_notifier, chat_net):
    async with open_notifier(smtp_url=None) as notifier:
        await _every_platform(notifier, chat_net)
        await notifier.deliver(user_upserted("carol"))
        await notifier.set_preferences(
            "carol",
            chat_ids={
                "dingtalk": "13800138000",
                "slack": "U024BE7LH",
                "teams": "carol@example.com",
                "feishu": "ou_7d8a6e6df7621556ce0d21922b676706",
            },
        )
        event = Instance().task_created("Finance review", assignee="carol")
        task_id = event.data["task_id"]
        assert await notifier.deliver(event) == ["handled"]

        assert await notifier.dispatcher.run_once() == 7
        hosts = _by_host(chat_net.proxy.requests)
        assert set(hosts) == {
            "oapi.dingtalk.com",
            "qyapi.weixin.qq.com",
            "open.feishu.cn",
            "open.larksuite.com",
            "hooks.slack.com",
        }
        link = f"{PUBLIC_URL}/tasks/{task_id}"

        dingtalk = hosts["oapi.dingtalk.com"]
        assert dingtalk.path == "/robot/send"
        assert dingtalk.query["access_token"] == [DINGTALK_TOKEN]
        body = dingtalk.json
        assert body["msgtype"] == "markdown"
        assert body["markdown"]["title"] == "New task: Finance review"
        assert body["at"] == {"atMobiles": ["13800138000"], "isAtAll": False}
        markdown = body["markdown"]["text"]
        assert "@13800138000" in markdown and f"[Open in BPM]({link})" in markdown
        approve, reject = _action_links(markdown)
        assert "[Approve](" in markdown and "[Reject](" in markdown and approve != reject

        wecom = hosts["qyapi.weixin.qq.com"]
        assert (wecom.path, wecom.query["key"]) == ("/cgi-bin/webhook/send", [WECOM_KEY])
        assert wecom.json["msgtype"] == "text"
        content = wecom.json["text"]["content"]
        assert content.startswith("New task: Finance review")
        assert f"Open in BPM: {link}" in content and "Approve: " in content

        feishu = hosts["open.feishu.cn"]
        assert feishu.path == f"/open-apis/bot/v2/hook/{FEISHU_TOKEN}/"
        assert feishu.json["msg_type"] == "text"
        assert (
            '<at user_id="ou_7d8a6e6df7621556ce0d21922b676706">carol</at>'
            in (feishu.json["content"]["text"])
        )

        lark = hosts["open.larksuite.com"]
        assert lark.path == f"/open-apis/bot/v2/hook/{LARK_TOKEN}"
        assert lark.json["msg_type"] == "text"
        assert lark.json["content"]["text"].startswith("New task: Finance review\n")

        slack = hosts["hooks.slack.com"]
        assert slack.path == f"/services/{SLACK_HOOK}"
        [attachment] = slack.json["attachments"]
        header, section = attachment["blocks"]
        assert header == {
            "type": "header",
            "text": {"type": "plain_text", "text": "New task: Finance review", "emoji": True},
        }
        assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
        assert section["text"]["text"].startswith("<@U024BE7LH>")
        assert f"<{link}|Open in BPM>" in section["text"]["text"]

        [teams] = chat_net.tls.requests
        assert teams.path == "/workflows/wf01/triggers/manual/paths/invoke"
        assert teams.query["sig"] == ["s1gn4tur3"]
        [card] = teams.json["attachments"]
        assert teams.json["type"] == "message"
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        blocks = card["content"]["body"]
        assert card["content"]["type"] == "AdaptiveCard"
        assert blocks[0]["text"] == "New task: Finance review"
        assert blocks[1]["text"].startswith("<at>carol@example.com</at>")
        assert card["content"]["msteams"]["entities"][0]["mentioned"]["id"] == "carol@example.com"

        [hook] = chat_net.plain.requests
        assert hook.path == "/bpm/hook"
        payload = hook.json
        assert payload["title"] == "New task: Finance review"
        assert payload["type"] == "info" and payload["kind"] == "task_assigned"
        assert "message" not in payload and "Process: expense-reimbursement" in payload["body"]
        assert payload["link"] == link and payload["task_id"] == task_id
        assert payload["recipient"] == "carol"
        assert payload["approve_url"].startswith(f"{PUBLIC_URL}/api/v1/notifications/actions/")

        log = await notifier.deliveries(recipient="carol")
        outgoing = {d["channel"]: d for d in log if d["channel"] != "in_app"}
        assert len(outgoing) == 7
        assert {(d["status"], d["attempts"]) for d in outgoing.values()} == {("sent", 1)}
        assert outgoing["finance-dingtalk"]["channel_kind"] == "dingtalk"
        assert outgoing["finance-dingtalk"]["address"] == "13800138000"


async def test_chat_messages_speak_the_persons_language(open_notifier, chat_net):
    async with open_notifier(smtp_url=None) as notifier:
        await notifier.add_channel("group", f"dingtalk://{DINGTALK_TOKEN}/", default=True)
        await notifier.deliver(user_upserted("dave", locale="en"))
        await notifier.set_preferences("dave", language="zh-CN", timezone="Asia/Shanghai")
        await notifier.deliver(Instance().task_created("财务审核", assignee="dave"))
        await notifier.dispatcher.run_once()
        [sent] = chat_net.proxy.requests
        markdown = sent.json["markdown"]
        assert markdown["title"] == "新任务：财务审核"
        assert "截止时间**：2026-03-04 01:30 Asia/Shanghai" in markdown["text"]
        assert "[同意](" in markdown["text"] and "[拒绝](" in markdown["text"]


async def test_channel_secrets_never_leave_the_service(open_notifier, chat_net, capfd):
    async with open_notifier(smtp_url=None) as notifier:
        await _every_platform(notifier, chat_net)
        admin = notifier.client.as_user(*ADMIN)
        listed = await notifier.client.get("/api/v1/channels", headers=admin)
        assert listed.status_code == 200
        items = {c["name"]: c for c in listed.json()["items"]}
        assert items["finance-dingtalk"]["target"] == "dingtalk://…0001"
        assert items["finance-dingtalk"]["kind"] == "dingtalk"
        assert items["finance-teams"]["target"] == f"workflows://127.0.0.1:{chat_net.tls.port}/…"
        assert items["erp-webhook"]["target"] == f"json://127.0.0.1:{chat_net.plain.port}/…"
        assert all("url" not in c for c in items.values())
        for secret in (*SECRETS, "s1gn4tur3", "/bpm/hook"):
            assert secret not in listed.text

        db = notifier.client.app.state.db
        async with db.transaction() as session:
            stored = (await session.execute(text("SELECT secret_url FROM channel_configs"))).all()
        assert stored and not any(s in row[0] for row in stored for s in SECRETS), (
            "stored encrypted"
        )

        # a failing send: its error is stored and logged without the secret
        await notifier.add_channel(
            "down", f"json://127.0.0.1:{closed_port()}/hooks/s3cr3tP4thT0k3n", default=True
        )
        await notifier.deliver(user_upserted("carol"))
        await notifier.deliver(Instance().task_created(assignee="carol"))
        await notifier.dispatcher.run_once()
        [down] = await notifier.deliveries(channel="down")
        assert down["status"] == "failed" and down["last_error"]
        assert "s3cr3tP4thT0k3n" not in down["last_error"]
        # the service log (stdout) tells of the failure without the secret; Apprise's own
        # records (which carry URLs) stay out of it
        service_log = capfd.readouterr().out
        assert "delivery_failed" in service_log
        assert not any(s in service_log for s in (*SECRETS, "s3cr3tP4thT0k3n", "s1gn4tur3"))
        assert logging.getLogger("apprise").propagate is False


async def test_only_administrators_manage_channels_and_bad_urls_are_refused(notifier):
    client = notifier.client
    carol = client.as_user("carol", "finance_reviewer")
    assert (await client.get("/api/v1/channels", headers=carol)).status_code == 403
    denied = await client.post(
        "/api/v1/channels", json={"name": "x", "url": "json://h/x"}, headers=carol
    )
    assert denied.status_code == 403

    admin = client.as_user(*ADMIN)

    async def problem(body: dict[str, Any]) -> tuple[int, set[str], str]:
        response = await client.post("/api/v1/channels", json=body, headers=admin)
        fields = {e["field"] for e in response.json().get("errors", [])}
        return response.status_code, fields, response.text

    status, fields, answer = await problem({"name": "g", "url": "dingtalk://not a token"})
    assert (status, fields) == (422, {"url"}) and "not a token" not in answer
    status, fields, _ = await problem({"name": "g", "url": "telegram://123456:abcdef/1234"})
    assert (status, fields) == (422, {"url"})
    status, fields, _ = await problem({"name": "email", "url": "json://127.0.0.1/x"})
    assert (status, fields) == (422, {"name"})
    status, fields, _ = await problem({"name": "Bad Name", "url": "json://127.0.0.1/x"})
    assert (status, fields) == (422, {"name"})
    await notifier.add_channel("hook", "json://127.0.0.1/x")
    status, fields, _ = await problem({"name": "hook", "url": "json://127.0.0.1/y"})
    assert (status, fields) == (409, {"name"})

    native = await notifier.add_channel(
        "native-slack", f"https://hooks.slack.com/services/{SLACK_HOOK}"
    )
    assert native["kind"] == "slack"

    changed = await client.patch(
        f"/api/v1/channels/{native['id']}",
        json={"enabled": False, "rate_per_minute": 20},
        headers=admin,
    )
    assert changed.status_code == 200
    assert (changed.json()["enabled"], changed.json()["rate_per_minute"]) == (False, 20)
    gone = await client.delete(f"/api/v1/channels/{native['id']}", headers=admin)
    assert gone.status_code == 204
    assert (await client.get(f"/api/v1/channels/{native['id']}", headers=admin)).status_code == 404


async def test_server_errors_are_retried_until_the_message_goes_out(open_notifier, chat_net):
    async with open_notifier(smtp_url=None) as notifier:
        await notifier.add_channel(
            "hook", f"json://127.0.0.1:{chat_net.plain.port}/h", default=True
        )
        await notifier.deliver(user_upserted("carol"))
        await notifier.deliver(Instance().task_created(assignee="carol"))
        chat_net.plain.reply(Reply(status=500), Reply(status=503))

        assert await notifier.dispatcher.run_once() == 1
        [failed] = await notifier.deliveries(channel="hook")
        assert failed["status"] == "failed" and "500" in failed["last_error"]
        first_retry = _at(failed["next_attempt_at"])
        assert await notifier.dispatcher.run_once() == 0, "not before its time"

        assert await notifier.dispatcher.run_once(now=first_retry) == 1
        [again] = await notifier.deliveries(channel="hook")
        assert again["status"] == "failed" and "503" in again["last_error"]
        second_retry = _at(again["next_attempt_at"])
        base = notifier.settings.delivery_retry_base
        assert (second_retry - first_retry).total_seconds() >= base, "the delay grows"

        assert await notifier.dispatcher.run_once(now=second_retry) == 1
        [sent] = await notifier.deliveries(channel="hook")
        assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 3, None)
        assert len(chat_net.plain.requests) == 3

        detail = await notifier.client.get(
            f"/api/v1/deliveries/{sent['id']}", headers=notifier.client.as_user(*ADMIN)
        )
        attempts = detail.json()["attempt_log"]
        assert [(a["number"], a["outcome"]) for a in attempts] == [
            (1, "failed"),
            (2, "failed"),
            (3, "sent"),
        ]
        assert "500" in attempts[0]["error"] and attempts[2]["error"] is None


async def test_server_down_until_the_last_attempt_is_a_dead_letter_an_admin_can_retry(
    open_notifier, chat_net
):
    port = closed_port()
    async with open_notifier(smtp_url=None, delivery_max_attempts=2) as notifier:
        await notifier.add_channel("erp", f"json://127.0.0.1:{port}/h", default=True)
        await notifier.deliver(user_upserted("carol"))
        await notifier.deliver(Instance().task_created(assignee="carol"))
        await notifier.dispatcher.run_once()
        [failed] = await notifier.deliveries(channel="erp")
        assert failed["status"] == "failed"
        await notifier.dispatcher.run_once(now=_at(failed["next_attempt_at"]))
        [dead] = await notifier.deliveries(channel="erp")
        assert dead["status"] == "dead" and dead["next_attempt_at"] is None
        assert "connection" in dead["last_error"].lower()
        assert (await notifier.deliveries(status="dead"))[0]["id"] == dead["id"]

        # the receiver is back (the admin fixed the URL), and the admin retries the dead letter
        admin = notifier.client.as_user(*ADMIN)
        channel = (await notifier.client.get("/api/v1/channels", headers=admin)).json()["items"][0]
        await notifier.client.patch(
            f"/api/v1/channels/{channel['id']}",
            json={"url": f"json://127.0.0.1:{chat_net.plain.port}/h"},
            headers=admin,
        )
        carol = notifier.client.as_user("carol", "finance_reviewer")
        forbidden = await notifier.client.post(
            f"/api/v1/deliveries/{dead['id']}/retry", headers=carol
        )
        assert forbidden.status_code == 403
        retried = await notifier.client.post(
            f"/api/v1/deliveries/{dead['id']}/retry", headers=admin
        )
        assert retried.status_code == 200 and retried.json()["status"] == "pending"
        assert await notifier.dispatcher.run_once() == 1
        [sent] = await notifier.deliveries(channel="erp")
        assert sent["status"] == "sent" and len(chat_net.plain.requests) == 1
        again = await notifier.client.post(f"/api/v1/deliveries/{dead['id']}/retry", headers=admin)
        assert again.status_code == 409, "a sent delivery is not sent twice"


async def test_a_refused_request_is_dead_at_once_and_bulk_retry_revives_it(open_notifier, chat_net):
    async with open_notifier(smtp_url=None) as notifier:
        await notifier.add_channel(
            "hook", f"json://127.0.0.1:{chat_net.plain.port}/h", default=True
        )
        await notifier.deliver(user_upserted("carol"), user_upserted("dave"))
        await notifier.deliver(Instance().task_created(candidate_users=["carol", "dave"]))
        chat_net.plain.reply(Reply(status=404), Reply(status=404))
        assert await notifier.dispatcher.run_once() == 2
        dead = await notifier.deliveries(channel="hook")
        assert {(d["status"], d["attempts"]) for d in dead} == {("dead", 1)}, "4xx: no retry"

        admin = notifier.client.as_user(*ADMIN)
        bulk = await notifier.client.post(
            "/api/v1/deliveries/retry", json={"all_dead": True, "channel": "hook"}, headers=admin
        )
        assert bulk.json() == {"retried": 2}
        assert await notifier.dispatcher.run_once() == 2
        assert {d["status"] for d in await notifier.deliveries(channel="hook")} == {"sent"}
        invalid = await notifier.client.post("/api/v1/deliveries/retry", json={}, headers=admin)
        assert invalid.status_code == 422


async def test_a_slow_server_times_out_and_a_rate_limit_waits_longer(open_notifier, chat_net):
    settings = {"smtp_url": None, "chat_timeout": 0.3, "delivery_rate_limited_delay": 600}
    async with open_notifier(**settings) as notifier:
        await notifier.add_channel(
            "hook", f"json://127.0.0.1:{chat_net.plain.port}/h", default=True
        )
        await notifier.deliver(user_upserted("carol"))
        await notifier.deliver(Instance().task_created(assignee="carol"))
        chat_net.plain.reply(Reply(delay=1.0), Reply(status=429))
        await notifier.dispatcher.run_once()
        [slow] = await notifier.deliveries(channel="hook")
        assert slow["status"] == "failed" and "timed out" in slow["last_error"].lower()

        retry_at = _at(slow["next_attempt_at"])
        await notifier.dispatcher.run_once(now=retry_at)
        [limited] = await notifier.deliveries(channel="hook")
        assert limited["status"] == "failed" and "429" in limited["last_error"]
        wait = (_at(limited["next_attempt_at"]) - retry_at).total_seconds()
        assert wait >= 600 * (1 - notifier.settings.delivery_retry_jitter)


async def test_a_redelivered_event_never_posts_twice(open_notifier, chat_net):
    async with open_notifier(smtp_url=None) as notifier:
        await notifier.add_channel("group", f"feishu://{FEISHU_TOKEN}", default=True)
        await notifier.deliver(user_upserted("carol"))
        event = Instance().task_created(assignee="carol")
        await notifier.deliver(event)
        await notifier.dispatcher.run_once()
        assert await notifier.deliver(event) == ["duplicate"]
        assert await notifier.dispatcher.run_once() == 0
        assert len(chat_net.proxy.requests) == 1


async def test_each_channel_keeps_its_rate(open_notifier, chat_net):
    async with open_notifier(smtp_url=None) as notifier:
        await notifier.add_channel(
            "robot", f"dingtalk://{DINGTALK_TOKEN}/", default=True, rate_per_minute=2
        )
        await notifier.add_channel(
            "hook", f"json://127.0.0.1:{chat_net.plain.port}/h", default=True
        )
        await notifier.deliver(user_upserted("carol"))
        run = Instance()
        for step in ("One", "Two", "Three"):
            await notifier.deliver(run.task_created(step, assignee="carol"))
        now = dt.datetime.now(dt.UTC)
        assert await notifier.dispatcher.run_once(now=now) == 5, "2 on the robot, 3 on the hook"
        assert len(chat_net.proxy.requests) == 2 and len(chat_net.plain.requests) == 3
        assert await notifier.dispatcher.run_once(now=now + dt.timedelta(seconds=5)) == 0
        assert await notifier.dispatcher.run_once(now=now + dt.timedelta(seconds=31)) == 1
        titles = [r.json["markdown"]["title"] for r in chat_net.proxy.requests]
        assert sorted(titles) == ["New task: One", "New task: Three", "New task: Two"]


async def test_an_administrator_can_send_a_test_message(open_notifier, chat_net):
    async with open_notifier(smtp_url=None) as notifier:
        admin = notifier.client.as_user(*ADMIN)
        up = await notifier.add_channel("up", f"json://127.0.0.1:{chat_net.plain.port}/t")
        down = await notifier.add_channel("down", f"json://127.0.0.1:{closed_port()}/t")
        ok = await notifier.client.post(f"/api/v1/channels/{up['id']}/test", headers=admin)
        assert ok.json() == {"sent": True, "error": None}
        assert chat_net.plain.requests[0].json["title"] == "BPM test message"
        failed = await notifier.client.post(f"/api/v1/channels/{down['id']}/test", headers=admin)
        assert failed.json()["sent"] is False and "connection" in failed.json()["error"].lower()
