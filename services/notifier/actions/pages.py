"""The answers of action links: a small HTML page for people, JSON for programs."""

from __future__ import annotations

from markupsafe import Markup, escape

from services.notifier.actions.service import ActionResult

_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "confirm": ("Confirm: {verb}", "Press the button to {verb} this task."),
        "done": ("Done", "The task was {verbed}. You may close this page."),
        "used": ("Link already used", "This message's actions were used already."),
        "expired": ("Link expired", "This link has expired; open the task in BPM instead."),
        "invalid": ("Invalid link", "This link is not valid (it may be incomplete)."),
        "unknown_user": ("Not allowed", "Your account cannot act on tasks."),
        "forbidden": ("Not allowed", "You may not work this task (any more)."),
        "gone": ("Task not found", "The task no longer exists."),
        "already_completed": ("Already completed", "The task was completed already."),
        "refused": ("Not possible here", "The task needs more than one click; open it in BPM."),
        "unavailable": ("Try again later", "The platform cannot be reached just now."),
        "disabled": ("Not available", "Action links are not enabled."),
    },
    "zh-CN": {
        "confirm": ("确认{verb}", "点击按钮{verb}此任务。"),
        "done": ("已完成", "任务已{verbed}，可以关闭此页面。"),
        "used": ("链接已使用", "此消息中的操作已经使用过。"),
        "expired": ("链接已过期", "此链接已过期，请在 BPM 中打开任务。"),
        "invalid": ("链接无效", "此链接无效（可能不完整）。"),
        "unknown_user": ("无权操作", "您的账号无法办理任务。"),
        "forbidden": ("无权操作", "您（已）无权办理此任务。"),
        "gone": ("任务不存在", "该任务已不存在。"),
        "already_completed": ("任务已办理", "该任务已经办理完成。"),
        "refused": ("无法在此办理", "该任务需要填写更多信息，请在 BPM 中打开。"),
        "unavailable": ("请稍后再试", "暂时无法连接平台。"),
        "disabled": ("不可用", "未启用消息操作链接。"),
    },
}
_VERBS = {
    "en": {"approve": ("approve", "approved"), "reject": ("reject", "rejected")},
    "zh-CN": {"approve": ("同意", "同意"), "reject": ("拒绝", "拒绝")},
}
_BUTTON = {"en": "{verb} now", "zh-CN": "立即{verb}"}


def html_page(result: ActionResult, locale: str) -> str:
    locale = locale if locale in _TEXT else "en"
    outcome = result.claims.outcome if result.claims else "approve"
    verb, verbed = _VERBS[locale][outcome]
    heading, text = _TEXT[locale][result.code]
    heading, text = heading.format(verb=verb), text.format(verb=verb, verbed=verbed)
    form = ""
    if result.code == "confirm":
        button = _BUTTON[locale].format(verb=verb)
        form = Markup(
            '<form method="post"><button type="submit" style="font-size:1.1em;padding:.5em 1.5em">'
            "{}</button></form>"
        ).format(button)
    detail = Markup("<p><small>{}</small></p>").format(result.detail) if result.detail else ""
    return str(
        Markup(
            '<!doctype html><html lang="{}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="robots" content="noindex"><title>{}</title></head>'
            '<body style="font-family:system-ui,sans-serif;max-width:32em;margin:3em auto;'
            'padding:0 1em"><h1>{}</h1><p>{}</p>{}{}</body></html>'
        ).format(locale, heading, heading, escape(text), detail, form)
    )
