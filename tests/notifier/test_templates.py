"""Every kind of notification renders in both languages for every channel format."""

from __future__ import annotations

import re

import pytest

from services.notifier.deliveries.senders.chat import FORMATS as CHAT_FORMATS
from services.notifier.notifications.kinds import Kind
from services.notifier.notifications.templates import (
    FORMATS,
    SUPPORTED_LOCALES,
    TEMPLATE_DIR,
    TIME_VARIABLES,
    inbox_message,
    render,
)

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


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_inbox_text_does_not_show_the_link(kind, locale):
    """What lets `inbox_message` render once for notifications that differ only by link."""
    with_link = render(kind, locale, CONTEXT)
    assert render(kind, locale, {**CONTEXT, "link": "https://elsewhere.example.com/x"}) == with_link
    assert render(kind, locale, {**CONTEXT, "link": None}) == with_link


def test_remembered_inbox_texts_are_the_rendered_ones():
    for version in (1, 1.0, True, "1", None):
        context = {**CONTEXT, "version": version}
        for tz in (None, "Asia/Shanghai"):
            for link in ("https://x/1", "https://x/2"):
                expected = render(Kind.INSTANCE_COMPLETED, "en", {**context, "link": link}, tz=tz)
                assert inbox_message(Kind.INSTANCE_COMPLETED, "en", {**context, "link": link}, tz=tz) == expected
    assert inbox_message(Kind.DIGEST, "zh-CN", CONTEXT) == render(Kind.DIGEST, "zh-CN", CONTEXT)
    shown = {inbox_message(Kind.INSTANCE_COMPLETED, "en", {**CONTEXT, "version": v}).body for v in (1, True)}
    assert len(shown) == 2, "1 and True are shown differently, so they are remembered apart"


_TAG = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
_STRING = re.compile(r"\"[^\"]*\"|'[^']*'")
_NAME = re.compile(r"(?<![\w.])([A-Za-z_]\w*)")


def test_templates_show_times_only_through_when():
    """What lets `inbox_message` take texts whose times read the same for the same text."""
    for path in sorted(TEMPLATE_DIR.rglob("*.j2")):
        for tag in _TAG.finditer(path.read_text()):
            expression = _STRING.sub('""', tag.group(1) or tag.group(2))
            for name in _NAME.finditer(expression):
                if name.group(1) in TIME_VARIABLES:
                    rest = expression[name.end() :]
                    assert re.match(r"\s*\|\s*when\b", rest), f"{path.name}: {expression.strip()}"


@pytest.mark.parametrize("kind", [k for k in Kind if k is not Kind.DIGEST])
@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("tz", [None, "Asia/Shanghai"])
def test_times_in_the_same_minute_read_the_same(kind, locale, tz):
    def at(seconds: str) -> dict:
        return {name: f"2026-03-03T17:30:{seconds}Z" for name in TIME_VARIABLES}

    first = render(kind, locale, {**CONTEXT, **at("00.000001")}, tz=tz)
    assert render(kind, locale, {**CONTEXT, **at("59.999999")}, tz=tz) == first
    assert inbox_message(kind, locale, {**CONTEXT, **at("17.5")}, tz=tz) == first
    later = render(kind, locale, {**CONTEXT, **{n: "2026-03-03T17:31:00Z" for n in TIME_VARIABLES}}, tz=tz)
    assert inbox_message(kind, locale, {**CONTEXT, **{n: "2026-03-03T17:31:00Z" for n in TIME_VARIABLES}}, tz=tz) == later
