"""Email through a real SMTP server (aiosmtpd on a free port), sent by the delivery worker
after the event's unit of work committed."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from urllib.parse import quote

import apprise
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from sqlalchemy.engine import make_url

from bpm_common.db import drop_database
from bpm_common.events.broker import OutgoingMessage
from bpm_common.events.envelope import Event
from bpm_common.events.memory import MemoryBroker
from bpm_common.events.streams import stream_name, stream_subjects
from bpm_common.testing.plugin import common_settings, service_client
from bpm_stack.embedded import free_port
from services.notifier.deliveries.senders.email import SmtpConfig
from services.notifier.main import create_app
from services.notifier.settings import NotifierSettings
from tests.notifier.conftest import PUBLIC_URL
from tests.notifier.support import Instance, user_upserted

SENDER = "bpm@example.com"


class Mailbox:
    """An aiosmtpd handler keeping what the server accepted."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.on_message: Callable[[], None] | None = None

    async def handle_DATA(self, server, session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        if self.on_message:
            self.on_message()
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.original_content or e.content, policy=email.policy.default)
            for e in self.envelopes
        ]


class Credentials:
    """An aiosmtpd authenticator accepting one login, over a plain connection (as in tests)."""

    def __init__(self, login: str, password: str) -> None:
        self.expected = LoginPassword(login.encode(), password.encode())

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        return AuthResult(success=auth_data == self.expected)


@contextmanager
def smtp_server(port: int, credentials: Credentials | None = None) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    auth = {"authenticator": credentials, "auth_require_tls": False} if credentials else {}
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **auth)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


def smtp_url(port: int, auth: str = "") -> str:
    return f"smtp://{auth}127.0.0.1:{port}?from={SENDER}&starttls=false"


async def test_new_task_is_emailed_after_the_commit(open_notifier):
    port = free_port()
    with smtp_server(port) as mailbox:
        async with open_notifier(smtp_url=smtp_url(port)) as notifier:
            await notifier.deliver(
                user_upserted("carol", roles=["finance_reviewer"], email="carol@example.com"),
                user_upserted(
                    "dave", roles=["finance_reviewer"], email="dave@example.com", locale="zh-CN"
                ),
            )
            event = Instance().task_created("Finance review", candidate_roles=["finance_reviewer"])
            assert await notifier.deliver(event) == ["handled"]
            assert mailbox.envelopes == [], "nothing is sent from inside the event's transaction"

            assert await notifier.dispatcher.run_once() == 2
            by_recipient = {m["To"]: m for m in mailbox.messages()}
            assert set(by_recipient) == {"carol@example.com", "dave@example.com"}
            carol = by_recipient["carol@example.com"]
            assert carol["From"] == SENDER
            assert carol["Subject"] == "New task: Finance review"
            link = f"{PUBLIC_URL}/tasks/{event.data['task_id']}"
            assert carol.get_content_type() == "multipart/alternative"
            text = carol.get_body(("plain",)).get_content()
            html = carol.get_body(("html",)).get_content()
            assert link in text
            assert "expense-reimbursement" in text and "EXP-2026-042" in text
            assert f'Open in BPM: <a href="{link}">{link}</a>' in html
            assert "<b>Due:</b> 2026-03-03 17:30 UTC<br>" in html
            assert "Due: 2026-03-03 17:30 UTC" in text
            assert "Approve" not in html, "email carries no one-click actions"
            assert by_recipient["dave@example.com"]["Subject"] == "新任务：Finance review"
            assert {e.mail_from for e in mailbox.envelopes} == {SENDER}

            emails = await notifier.deliveries(channel="email")
            assert sorted((d["recipient"], d["status"], d["attempts"]) for d in emails) == [
                ("carol", "sent", 1),
                ("dave", "sent", 1),
            ]
            assert all(d["sent_at"] and d["next_attempt_at"] is None for d in emails)
            assert await notifier.dispatcher.run_once() == 0, "sent deliveries are done"


async def test_redelivered_event_sends_no_second_email(open_notifier):
    port = free_port()
    with smtp_server(port) as mailbox:
        async with open_notifier(smtp_url=smtp_url(port)) as notifier:
            await notifier.deliver(user_upserted("carol"))
            event = Instance().task_created(assignee="carol")
            await notifier.deliver(event)
            await notifier.dispatcher.run_once()
            assert await notifier.deliver(event) == ["duplicate"]
            await notifier.dispatcher.run_once()
            assert len(mailbox.envelopes) == 1
            assert len(await notifier.deliveries(channel="email")) == 1


async def test_server_down_records_the_failure_and_the_mail_goes_out_later(open_notifier):
    port = free_port()  # nothing listens there yet
    password = "s3cret:Pa55/w@rd"  # noqa: S105 - the test server's login
    auth = f"bpm:{quote(password, safe='')}@"
    async with open_notifier(smtp_url=smtp_url(port, auth=auth)) as notifier:
        await notifier.deliver(user_upserted("carol"))
        event = Instance().task_created(assignee="carol")
        await notifier.deliver(event)

        assert await notifier.dispatcher.run_once() == 1
        [failed] = await notifier.deliveries(channel="email")
        assert failed["status"] == "failed" and failed["attempts"] == 1
        assert "refused" in failed["last_error"].lower()
        assert failed["next_attempt_at"] is not None, "kept for a later retry"
        assert "s3cret" not in str(await notifier.deliveries()), "no secret in answers"
        assert (await notifier.inbox("carol"))["items"], (
            "the in-app notification is there regardless"
        )
        assert await notifier.dispatcher.run_once() == 0, "not retried before its time"

        retry_at = dt.datetime.fromisoformat(failed["next_attempt_at"].replace("Z", "+00:00"))
        with smtp_server(port, Credentials("bpm", password)) as mailbox:
            assert await notifier.dispatcher.run_once(now=retry_at + dt.timedelta(seconds=1)) == 1
        [message] = mailbox.messages()
        assert message["To"] == "carol@example.com"
        [sent] = await notifier.deliveries(channel="email")
        assert sent["status"] == "sent" and sent["attempts"] == 2 and sent["last_error"] is None


async def test_task_closed_before_the_email_went_out_cancels_it(open_notifier):
    port = free_port()
    with smtp_server(port) as mailbox:
        async with open_notifier(smtp_url=smtp_url(port)) as notifier:
            await notifier.deliver(user_upserted("carol"))
            run = Instance()
            created = run.task_created(assignee="carol")
            await notifier.deliver(created, run.task_completed(created.data["task_id"]))
            assert await notifier.dispatcher.run_once() == 0
            assert mailbox.envelopes == []
            [cancelled] = await notifier.deliveries(channel="email")
            assert cancelled["status"] == "cancelled"


async def test_people_without_an_address_get_the_in_app_notification_only(open_notifier):
    port = free_port()
    async with open_notifier(smtp_url=smtp_url(port)) as notifier:
        await notifier.deliver(user_upserted("carol", email=""))
        await notifier.deliver(Instance().task_created(assignee="carol"))
        assert [d["channel"] for d in await notifier.deliveries(recipient="carol")] == ["in_app"]


async def test_without_smtp_no_email_is_queued(notifier):
    await notifier.deliver(user_upserted("carol"))
    await notifier.deliver(Instance().task_created(assignee="carol"))
    assert [d["channel"] for d in await notifier.deliveries(recipient="carol")] == ["in_app"]


@pytest.mark.parametrize(
    "bad", ["http://mail:25?from=a@b.c", "smtp://mail:25", "smtp://u:hunter2@mail:99999?from=a@b.c"]
)
async def test_unusable_smtp_url_stops_the_start_without_showing_it(open_notifier, bad):
    with pytest.raises(ValueError) as failure:
        async with open_notifier(smtp_url=bad):
            raise AssertionError("the notifier must refuse to start with an unusable SMTP URL")
    assert "SMTP_URL" in str(failure.value)
    assert "hunter2" not in str(failure.value) and "mail:" not in str(failure.value)


async def test_running_service_emails_a_new_task_on_its_own(pg_url, run_prefix, token_for):
    """The whole path in a running app: consumer → commit → delivery worker → SMTP server."""
    database = f"{run_prefix}_notifier_live"
    port = free_port()
    settings = NotifierSettings(
        common=common_settings(pg_url, public_url=PUBLIC_URL, workers_enabled=True),
        database_name=database,
        smtp_url=smtp_url(port),
    )
    broker = MemoryBroker()
    received = threading.Event()
    try:
        with smtp_server(port) as mailbox:
            mailbox.on_message = received.set
            async with service_client(create_app(settings, broker=broker), token_for) as client:
                await _publish(
                    broker, user_upserted("carol"), Instance().task_created(assignee="carol")
                )
                assert await asyncio.to_thread(received.wait, 30), "no email arrived"
                [message] = mailbox.messages()
                assert message["Subject"] == "New task: Finance review"
                inbox = await client.get("/api/v1/notifications", headers=client.as_user("carol"))
                assert [i["title"] for i in inbox.json()["items"]] == ["New task: Finance review"]
    finally:
        await drop_database(make_url(pg_url).set(drivername="postgresql+asyncpg"), database)


async def _publish(broker: MemoryBroker, *events: Event) -> None:
    for event in events:
        await broker.ensure_stream(
            stream_name("bpm", event.service), stream_subjects("bpm", event.service)
        )
        await broker.publish(
            [OutgoingMessage(event.nats_subject("bpm"), event.to_json().encode(), event.id)]
        )


@pytest.mark.parametrize(
    ("url", "mode", "port"),
    [
        ("smtp://mail.example.com?from=bpm@example.com", "insecure", 25),
        ("smtp://mail.example.com:2525?from=bpm@example.com&starttls=true", "starttls", 2525),
        ("smtp://bpm:pw@mail.example.com?from=bpm@example.com", "starttls", 587),
        ("smtp://bpm:pw@mail.example.com:25?from=bpm@example.com&starttls=false", "insecure", 25),
        ("smtps://bpm:pw@mail.example.com?from=bpm@example.com", "ssl", 465),
    ],
)
def test_smtp_url_becomes_the_matching_apprise_email_service(url, mode, port):
    config = SmtpConfig.parse(url)
    assert (config.mode, config.port) == (mode, port)
    service = apprise.Apprise.instantiate(config.apprise_url("carol@example.com"))
    assert service is not None
    assert (service.smtp_host, service.port, service.secure_mode) == (
        "mail.example.com",
        port,
        mode,
    )
    assert service.from_addr[1] == "bpm@example.com"
    assert [address for _, address in service.targets] == ["carol@example.com"]


def test_smtp_credentials_survive_the_round_trip_and_stay_out_of_sight():
    password = "p@ss:w/rd%?&#"  # noqa: S105 - a test value
    config = SmtpConfig.parse(
        f"smtps://{quote('bpm@example.com', safe='')}:{quote(password, safe='')}@mail.example.com"
        "?from=bpm@example.com&name=BPM%20Platform&verify=false"
    )
    service = apprise.Apprise.instantiate(config.apprise_url("carol@example.com"))
    assert (service.user, service.password) == ("bpm@example.com", password)
    assert service.verify_certificate is False
    assert service.from_addr[0] == "BPM Platform"
    assert password not in repr(config)
    assert (
        config.scrub(f"login {password} / {quote(password, safe='')} refused")
        == "login *** / *** refused"
    )


class RejectingMailbox(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: N802 - aiosmtpd's name
        return "550 5.1.1 no such mailbox"


async def test_a_mailbox_the_server_refuses_is_a_dead_letter_at_once(open_notifier):
    port = free_port()
    controller = Controller(RejectingMailbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with open_notifier(smtp_url=smtp_url(port)) as notifier:
            await notifier.deliver(user_upserted("carol", email="gone@example.com"))
            await notifier.deliver(Instance().task_created(assignee="carol"))
            await notifier.dispatcher.run_once()
            [dead] = await notifier.deliveries(channel="email")
            assert (dead["status"], dead["attempts"]) == ("dead", 1)
            assert "550" in dead["last_error"] and dead["next_attempt_at"] is None
    finally:
        controller.stop()
