"""Notification texts: Jinja2 templates per language and kind, rendered for each channel's format.

`templates/<lang>/<kind>.j2` extends `templates/<lang>/base.j2` and fills its blocks:
`title`, `lead` (the sentence that says what happened), `facts` (label/value lines made
with `fmt.fact`) and optionally `more`. The base lays them out; a `Formatter` per format
(plain text, Markdown, HTML) turns facts, links and actions into that
format, so one template serves every channel. Templates run in a sandbox; HTML is
autoescaped (the formatter escapes what it builds itself). Times are shown in the
person's time zone (UTC unless they chose one).
"""

from __future__ import annotations

import datetime as dt
import html
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from services.notifier.notifications.kinds import Kind

SUPPORTED_LOCALES = ("en", "zh-CN")
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

#: the in-app inbox: plain text, the link and actions are fields of their own
IN_APP = "in_app"
TEXT = "text"
MARKDOWN = "markdown"
HTML = "html"
FORMATS = (IN_APP, TEXT, MARKDOWN, HTML)

_NO_TIME = {"en": "none", "zh-CN": "无"}
#: variables some kinds use only when the event had them
_OPTIONAL = (
    "actor",
    "assigned_by",
    "assignee",
    "business_key",
    "comment",
    "level",
    "message",
    "node_name",
    "reason",
    "result",
    "target_name",
)
_SEPARATOR = {"en": ": ", "zh-CN": "："}


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str


#: (label, url) of an action link
Action = tuple[str, str]


def supported_locale(value: str | None, default: str) -> str:
    """The supported language closest to `value` (`zh`, `zh_CN`, `zh-Hans` → `zh-CN`)."""
    if value:
        normal = value.replace("_", "-").lower()
        if normal.startswith("zh"):
            return "zh-CN"
        if normal.startswith("en"):
            return "en"
    return default


def zone(name: str | None) -> dt.tzinfo:
    """The time zone called `name`; UTC when it is unset or unknown."""
    if not name or name == "UTC":
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def is_zone(name: str) -> bool:
    """Whether `name` is a time zone the server knows (IANA name or UTC)."""
    if name == "UTC":
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_time(value: object) -> dt.datetime | None:
    """A datetime from a datetime or an ISO 8601 string; None for anything else."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def when(value: dt.datetime | str | None, locale: str, tz: str | None = None) -> str:
    """A time as `YYYY-MM-DD HH:MM <zone>`; text that is not a time is shown as it is."""
    if value is None or value == "":
        return _NO_TIME.get(locale, _NO_TIME["en"])
    moment = parse_time(value)
    if moment is None:
        return str(value)
    tzinfo = zone(tz)
    label = "UTC" if tzinfo is dt.UTC else str(tz)
    return f"{moment.astimezone(tzinfo):%Y-%m-%d %H:%M} {label}"


class Formatter:
    """Plain text: what the in-app inbox, WeCom, Feishu, Lark and webhooks show."""

    name = TEXT

    def __init__(self, locale: str) -> None:
        self.separator = _SEPARATOR.get(locale, ": ")

    def fact(self, label: str, value: object) -> str:
        return f"{label}{self.separator}{self.value(value)}"

    def value(self, value: object) -> str:
        return "-" if value is None or value == "" else str(value)

    def para(self, text: str) -> str:
        return f"{text.strip()}\n"

    def quote(self, text: object) -> str:
        return f"“{self.value(text)}”"

    def item(self, text: str, url: str | None = None) -> str:
        return f"- {text}" + (f" {url}" if url else "")

    def link(self, url: str, label: str) -> str:
        return f"\n{label}{self.separator}{url}"

    def actions(self, actions: Sequence[Action]) -> str:
        return "\n" + "\n".join(f"{label}{self.separator}{url}" for label, url in actions)

    def facts_begin(self) -> str:
        return ""

    def facts_end(self) -> str:
        return ""

    def list_begin(self) -> str:
        return ""

    def list_end(self) -> str:
        return ""


class InAppFormatter(Formatter):
    name = IN_APP

    def link(self, url: str, label: str) -> str:
        return ""

    def actions(self, actions: Sequence[Action]) -> str:
        return ""


class MarkdownFormatter(Formatter):
    """Markdown as DingTalk and Teams (Adaptive Cards) render it; Apprise turns it into
    Slack's mrkdwn for Slack."""

    name = MARKDOWN

    def fact(self, label: str, value: object) -> str:
        return f"- **{label}**{self.separator}{self.value(value)}"

    def para(self, text: str) -> str:
        return f"{text.strip()}\n\n"

    def quote(self, text: object) -> str:
        return f"\n> {self.value(text)}\n"

    def item(self, text: str, url: str | None = None) -> str:
        return f"- [{text}]({url})" if url else f"- {text}"

    def link(self, url: str, label: str) -> str:
        return f"\n\n[{label}]({url})"

    def actions(self, actions: Sequence[Action]) -> str:
        return "\n\n" + " | ".join(f"[{label}]({url})" for label, url in actions)


class HtmlFormatter(Formatter):
    """HTML for email; every value is escaped, the result is `Markup`."""

    name = HTML

    def fact(self, label: str, value: object) -> Markup:  # type: ignore[override]
        return Markup("<b>{}{}</b> {}<br>").format(label, self.separator.strip(), self.value(value))

    def para(self, text: str) -> Markup:  # type: ignore[override]
        return Markup("<p>{}</p>").format(text.strip())

    def quote(self, text: object) -> Markup:  # type: ignore[override]
        return Markup('<blockquote style="color:#333">{}</blockquote>').format(self.value(text))

    def item(self, text: str, url: str | None = None) -> Markup:  # type: ignore[override]
        if url:
            return Markup('<li><a href="{}">{}</a></li>').format(url, text)
        return Markup("<li>{}</li>").format(text)

    def link(self, url: str, label: str) -> Markup:  # type: ignore[override]
        return Markup('<p>{}{}<a href="{}">{}</a></p>').format(label, self.separator, url, url)

    def actions(self, actions: Sequence[Action]) -> Markup:  # type: ignore[override]
        links = Markup(" | ").join(
            Markup('<a href="{}">{}</a>').format(url, label) for label, url in actions
        )
        return Markup("<p>{}</p>").format(links)

    def facts_begin(self) -> Markup:  # type: ignore[override]
        return Markup("<p>")

    def facts_end(self) -> Markup:  # type: ignore[override]
        return Markup("</p>")

    def list_begin(self) -> Markup:  # type: ignore[override]
        return Markup("<ul>")

    def list_end(self) -> Markup:  # type: ignore[override]
        return Markup("</ul>")


_FORMATTERS: dict[str, type[Formatter]] = {
    IN_APP: InAppFormatter,
    TEXT: Formatter,
    MARKDOWN: MarkdownFormatter,
    HTML: HtmlFormatter,
}


@cache
def _environment(html: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        # the templates ship with the code: no need to stat their files on every render
        # (`extends` and `include` look them up again each time)
        auto_reload=False,
        undefined=StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["when"] = _when_filter
    return env


@pass_context
def _when_filter(context: Context, value: dt.datetime | str | None) -> str:
    """`{{ due_at | when }}`: the time in the reader's language and time zone."""
    return when(value, context.get("locale", "en"), context.get("tz"))


@cache
def _template(kind: Kind, locale: str, html: bool) -> Template:
    return _environment(html).get_template(f"{locale}/{kind.value}.j2")


_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def render(
    kind: Kind,
    locale: str,
    context: Mapping[str, Any],
    *,
    fmt: str = IN_APP,
    actions: Mapping[str, str] | None = None,
    tz: str | None = None,
) -> Message:
    """The title and body of a `kind` notification in `locale` for the format `fmt`.

    `context` holds the kind's variables (JSON values; times as ISO strings or datetimes)
    and `link`; `actions` (`{"approve": url, "reject": url}`) are the links of chat formats.
    """
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    if fmt not in _FORMATTERS:
        raise ValueError(f"unsupported format {fmt!r}")
    is_html = fmt == HTML
    template = _template(Kind(kind), locale, is_html)
    values: dict[str, Any] = {
        "link": None,
        **dict.fromkeys(_OPTIONAL),
        **context,
        "locale": locale,
        "tz": tz or "UTC",
        "fmt": _FORMATTERS[fmt](locale),
        "actions": dict(actions) if actions else None,
    }
    title = template.render({**values, "part": "title"})
    body = template.render({**values, "part": "body"})
    title = " ".join(title.split())
    if is_html:
        # one line: mail clients and Apprise's plain-text alternative read tags, not newlines
        body = "".join(line.strip() for line in body.splitlines())
        return Message(title=html.unescape(title), body=body.replace("<p></p>", ""))
    return Message(title=title, body=_tidy(body))


#: the variables that hold times: templates show them only through the `when` filter
#: (tests/notifier/test_templates.py checks every template), so a text depends on such a
#: variable only through what `when` makes of it
TIME_VARIABLES = frozenset({"due_at", "started_at", "ended_at", "at"})

#: in-app texts by kind, language, time zone and variables as shown; bounded (oldest out first)
_INBOX_TEXTS: dict[tuple[Any, ...], Message] = {}
_INBOX_TEXTS_MAX = 4096


def inbox_message(
    kind: Kind, locale: str, context: Mapping[str, Any], *, tz: str | None = None
) -> Message:
    """`render(kind, locale, context, tz=tz)` for the in-app inbox, remembered.

    Rendering is a function of its arguments alone; the in-app text shows no link (the
    link is a field of its own: `InAppFormatter`) and times to the minute (`when`). So
    notifications whose variables are the same apart from `link` and whose times read the
    same have the same text (tasks of one step due in the same minute, processes that
    started and ended in the same minutes), and it is rendered once.
    """
    shown_tz = tz or "UTC"
    try:
        key = (
            kind,
            locale,
            tz,
            _frozen(
                {
                    name: (when, when(value, locale, shown_tz)) if name in TIME_VARIABLES else value
                    for name, value in context.items()
                    if name != "link"
                }
            ),
        )
        message = _INBOX_TEXTS.get(key)
    except TypeError:  # a variable that cannot be a key: render it each time
        return render(kind, locale, context, tz=tz)
    if message is None:
        message = render(kind, locale, context, tz=tz)
        if len(_INBOX_TEXTS) >= _INBOX_TEXTS_MAX:
            del _INBOX_TEXTS[next(iter(_INBOX_TEXTS))]
        _INBOX_TEXTS[key] = message
    return message


def _frozen(value: Any) -> Any:
    """`value` (template variables) as a hashable key that tells apart every value a
    template could show differently (`1`, `1.0` and `True` are different keys)."""
    if isinstance(value, Mapping):
        return (dict, tuple(sorted((k, _frozen(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return (list, tuple(_frozen(v) for v in value))
    return (type(value), value)
