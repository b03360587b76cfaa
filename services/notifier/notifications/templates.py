"""What a notification says: one title and body template per kind and language.

Templates are Jinja2 (sandboxed, plain text, strict about missing values). A kind names
its templates for every supported language; `render(kind, locale, context)` picks the
person's language. Times are shown in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

SUPPORTED_LOCALES = ("en", "zh-CN")


class Kind(StrEnum):
    TASK_ASSIGNED = "task_assigned"
    TASK_OFFERED = "task_offered"
    INSTANCE_COMPLETED = "instance_completed"


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str


_TASK_FACTS = {
    "en": (
        "Process: {{ process_key }}\n"
        "Business key: {{ business_key or '-' }}\n"
        "Due: {{ due_at | when(locale) }}"
    ),
    "zh-CN": (
        "流程：{{ process_key }}\n"
        "业务编号：{{ business_key or '-' }}\n"
        "截止时间：{{ due_at | when(locale) }}"
    ),
}

#: kind -> locale -> (title template, body template)
TEMPLATES: dict[Kind, dict[str, tuple[str, str]]] = {
    Kind.TASK_ASSIGNED: {
        "en": (
            "New task: {{ task_name }}",
            'You have been assigned the task "{{ task_name }}".\n' + _TASK_FACTS["en"],
        ),
        "zh-CN": (
            "新任务：{{ task_name }}",
            "您有一项新任务“{{ task_name }}”，请及时办理。\n" + _TASK_FACTS["zh-CN"],
        ),
    },
    Kind.TASK_OFFERED: {
        "en": (
            "New task: {{ task_name }}",
            'The task "{{ task_name }}" is offered to you; any of the people it is offered to '
            "may take it.\n" + _TASK_FACTS["en"],
        ),
        "zh-CN": (
            "新任务：{{ task_name }}",
            "任务“{{ task_name }}”待办理，您是候选办理人之一，任一候选人均可办理。\n"
            + _TASK_FACTS["zh-CN"],
        ),
    },
    Kind.INSTANCE_COMPLETED: {
        "en": (
            "Process completed: {{ process_key }}",
            "The process you started has completed.\n"
            "Process: {{ process_key }} (version {{ version }})\n"
            "Business key: {{ business_key or '-' }}\n"
            "Started: {{ started_at | when(locale) }}\n"
            "Completed: {{ ended_at | when(locale) }}",
        ),
        "zh-CN": (
            "流程已完成：{{ process_key }}",
            "您发起的流程已办结。\n"
            "流程：{{ process_key }}（版本 {{ version }}）\n"
            "业务编号：{{ business_key or '-' }}\n"
            "发起时间：{{ started_at | when(locale) }}\n"
            "完成时间：{{ ended_at | when(locale) }}",
        ),
    },
}

_NO_TIME = {"en": "none", "zh-CN": "无"}


def supported_locale(value: str | None, default: str) -> str:
    """The supported language closest to `value` (`zh`, `zh_CN`, `zh-Hans` → `zh-CN`)."""
    if value:
        normal = value.replace("_", "-").lower()
        if normal.startswith("zh"):
            return "zh-CN"
        if normal.startswith("en"):
            return "en"
    return default


def when(value: dt.datetime | str | None, locale: str) -> str:
    """A time as `YYYY-MM-DD HH:MM UTC`; text that is not a time is shown as it is."""
    if value is None or value == "":
        return _NO_TIME.get(locale, _NO_TIME["en"])
    moment = value
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    assert isinstance(moment, dt.datetime)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@cache
def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )
    env.filters["when"] = when
    return env


@cache
def _compiled(kind: Kind, locale: str) -> tuple[Template, Template]:
    title, body = TEMPLATES[kind][locale]
    env = _environment()
    return env.from_string(title), env.from_string(body)


def render(kind: Kind, locale: str, context: Mapping[str, Any]) -> Message:
    """The title and body of a `kind` notification in `locale` (one of SUPPORTED_LOCALES)."""
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    title, body = _compiled(kind, locale)
    values = {**context, "locale": locale}
    return Message(title=title.render(values).strip(), body=body.render(values).strip())
