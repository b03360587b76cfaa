"""Channel URLs: which kind of channel a URL is, whether Apprise accepts it, how it is shown
masked, and which parts of it are secret (to scrub them from error texts).

Accepted: Apprise URLs of the supported platforms (`dingtalk://`, `wecombot://`,
`feishu://`, `lark://`, `slack://`, `workflows://` for Microsoft Teams, `json://` /
`jsons://` for a generic JSON webhook), a platform's own webhook URL where Apprise
recognises it (e.g. `https://hooks.slack.com/services/...`), and `smtp://` / `smtps://`
mail servers in the format of `BPM_SMTP_URL`. Error messages never repeat the URL.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlsplit

import apprise

from services.notifier.apprise_support import quiet_apprise
from services.notifier.deliveries.models import ChannelKind
from services.notifier.deliveries.senders.email import SmtpConfig, SmtpUrlError

SCHEMES: dict[str, ChannelKind] = {
    "dingtalk": ChannelKind.DINGTALK,
    "wecombot": ChannelKind.WECOM,
    "feishu": ChannelKind.FEISHU,
    "lark": ChannelKind.LARK,
    "slack": ChannelKind.SLACK,
    "workflow": ChannelKind.TEAMS,
    "workflows": ChannelKind.TEAMS,
    "json": ChannelKind.WEBHOOK,
    "jsons": ChannelKind.WEBHOOK,
    "smtp": ChannelKind.EMAIL,
    "smtps": ChannelKind.EMAIL,
}
#: kinds whose URL carries its secret token where a host would be
_TOKEN_IN_HOST = {
    ChannelKind.DINGTALK,
    ChannelKind.WECOM,
    ChannelKind.FEISHU,
    ChannelKind.LARK,
    ChannelKind.SLACK,
}
#: query parameters that are settings, not secrets
_PLAIN_PARAMS = {
    "format",
    "verify",
    "cto",
    "rto",
    "method",
    "image",
    "footer",
    "blocks",
    "timestamp",
    "wrap",
    "pa",
    "overflow",
    "retry",
    "wait",
    "optional",
    "from",
    "name",
    "starttls",
    "mode",
    "ver",
    "api-version",
}
_MIN_SECRET = 6


class ChannelUrlError(ValueError):
    """The URL is not usable; the message never repeats it (it holds secrets)."""


def normalise(raw: str) -> tuple[ChannelKind, str]:
    """The kind of channel and the URL to store; raises `ChannelUrlError`."""
    url = raw.strip()
    if not url or any(c in url for c in "\r\n\t "):
        raise ChannelUrlError("the URL is empty or contains blanks")
    scheme = url.partition("://")[0].lower()
    if scheme in ("smtp", "smtps"):
        try:
            SmtpConfig.parse(url)
        except SmtpUrlError as exc:
            raise ChannelUrlError(str(exc)) from None
        return ChannelKind.EMAIL, url
    quiet_apprise()
    service = apprise.Apprise.instantiate(url)
    if service is None:
        raise ChannelUrlError(
            "Apprise does not accept this URL (check the scheme, the token and its format)"
        )
    if scheme in ("http", "https"):
        # a platform's own webhook URL: keep Apprise's form of it
        url = service.url(privacy=False)
        scheme = url.partition("://")[0].lower()
    kind = SCHEMES.get(scheme)
    if kind is None or kind is ChannelKind.EMAIL:
        supported = ", ".join(sorted(s + "://" for s in SCHEMES))
        raise ChannelUrlError(f"this kind of channel is not supported (supported: {supported})")
    return kind, url


def kind_of(url: str) -> ChannelKind:
    return SCHEMES[url.partition("://")[0].lower()]


def mask(url: str) -> str:
    """The URL as the API shows it: the scheme and the target, secrets left out."""
    kind = kind_of(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if kind in _TOKEN_IN_HOST:
        token = unquote(parts.netloc.rpartition("@")[2])
        return f"{scheme}://…{token[-4:]}" if len(token) > 8 else f"{scheme}://…"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    shown = f"{scheme}://{host}{port}"
    if kind is ChannelKind.EMAIL:
        sender = dict(parse_qsl(parts.query)).get("from")
        return f"{shown} (from {sender})" if sender else shown
    return shown + ("/…" if parts.path.strip("/") else "")


def secret_fragments(url: str) -> list[str]:
    """The parts of the URL that may be secret, in every form an error text may show them."""
    parts = urlsplit(url)
    kind = kind_of(url)
    raw: list[str] = []
    if parts.password:
        raw.append(parts.password)
    if parts.username and (parts.password or kind in _TOKEN_IN_HOST):
        raw.append(parts.username)
    if kind in _TOKEN_IN_HOST and parts.hostname:
        raw.append(parts.netloc.rpartition("@")[2])
    raw += [segment for segment in parts.path.split("/") if len(segment) >= _MIN_SECRET]
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if key.lower() not in _PLAIN_PARAMS and not key.startswith(":"):
            raw.append(value)
    found: set[str] = set()
    for fragment in raw:
        for form in (fragment, unquote(fragment), quote(unquote(fragment), safe="")):
            if form and (len(form) >= _MIN_SECRET or form in (parts.password, parts.username)):
                found.add(form)
    return sorted(found, key=len, reverse=True)


def scrub(text: str, fragments: list[str]) -> str:
    """`text` with every secret fragment replaced by `***`."""
    for fragment in fragments:
        text = text.replace(fragment, "***")
    return text
