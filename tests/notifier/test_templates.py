"""Every kind of notification renders in both languages for every channel format."""

from __future__ import annotations

import pytest

from services.notifier.deliveries.senders.chat import FORMATS as CHAT_FORMATS
from services.notifier.notifications.kinds import Kind
from services.notifier.notifications.templates import FORMATS, SUPPORTED_LOCALES, render

CONTEXT = {
    "task_name": "Finance <review> & co",
    "process_key": "expense-reimbursement",
    "business_key": "EXP-1",
    "due_at": "2026-03-03T17:30:00Z",
    "assigned_by": "bob",
    "assignee": "carol",
    "level": 1,
    "actor": "bob",
    "message": "please hurry",
    "comment": "too expensive",
    "reason": "missing receipt",
    "target_name": "Submit",
    "node_name": "Review",
    "version": 3,
    "started_at": "2026-03-03T10:00:00Z",
    "ended_at": "2026-03-03T17:00:00Z",
    "result": "approved",
    "node_id": "pay",
    "instance_id": "i-1",
    "at": "2026-03-03T17:30:00Z",
    "link": "https://bpm.example.com/tasks/t-1",
    "tasks": [
        {
            "name": "A",
            "process_key": "p",
            "business_key": None,
            "due_at": None,
            "link": "https://x/1",
        }
    ],
}
ACTIONS = {"approve": "https://x/approve", "reject": "https://x/reject"}


def test_every_chat_channel_has_a_format():
    assert set(CHAT_FORMATS.values()) <= set(FORMATS)


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_kind_renders_in_every_language_and_format(kind, locale, fmt):
    message = render(kind, locale, CONTEXT, fmt=fmt, actions=ACTIONS)
    assert message.title and "\n" not in message.title
    assert message.body
    assert "{{" not in message.body and "{%" not in message.body
    if fmt == "html":
        assert "<review>" not in message.body, "autoescaped"
        assert "https://bpm.example.com/tasks/t-1" in message.body
    if fmt == "in_app":
        assert "https://x/approve" not in message.body, "the inbox has no one-click actions"
    if fmt in ("text", "markdown") and kind is not Kind.DIGEST:
        assert "https://x/approve" in message.body


def test_languages_differ_and_times_follow_the_readers_zone():
    en = render(Kind.TASK_OVERDUE, "en", CONTEXT, fmt="text")
    zh = render(Kind.TASK_OVERDUE, "zh-CN", CONTEXT, fmt="text", tz="Asia/Shanghai")
    assert en.title == "Overdue: Finance <review> & co"
    assert zh.title == "已超时：Finance <review> & co"
    assert "2026-03-03 17:30 UTC" in en.body
    assert "2026-03-04 01:30 Asia/Shanghai" in zh.body


def test_templates_cannot_reach_python_internals():
    hostile = {**CONTEXT, "task_name": "{{ ''.__class__.__mro__ }}"}
    message = render(Kind.TASK_ASSIGNED, "en", hostile, fmt="text")
    assert "{{ ''.__class__.__mro__ }}" in message.title, "values are data, never templates"
