"""Email through Apprise's `mailto://` / `mailtos://` plugin, configured by one SMTP URL.

`smtp://[user:pass@]host[:port]?from=bpm@example.com[&name=BPM][&starttls=true|false][&verify=true|false]`
sends in clear or upgrades with STARTTLS; `smtps://` speaks TLS from the first byte.
Apprise is synchronous, so each message is sent in a worker thread. The password lives
only in the Apprise URL built for the send; errors are scrubbed of it before they are
logged or stored. A 5xx SMTP reply (e.g. 550, no such mailbox) is permanent; connection
errors and 4xx replies are retried.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import apprise

from services.notifier.apprise_support import failure_of, quiet_apprise
from services.notifier.deliveries.senders.base import DeliveryError, OutgoingMessage

SecureMode = Literal["insecure", "starttls", "ssl"]

_ADDRESS = re.compile(r"^[^@\s,;<>\"']+@[^@\s,;<>\"']+$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_KNOWN_PARAMS = {"from", "name", "starttls", "verify"}
_DEFAULT_PORTS = {"insecure": 25, "starttls": 587, "ssl": 465}


class SmtpUrlError(ValueError):
    """The SMTP URL is malformed; the message never repeats the URL (it may hold a password)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    mode: SecureMode
    from_addr: str
    from_name: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    verify_certificate: bool = True
    timeout: float = 15.0

    @classmethod
    def parse(cls, raw: str, *, timeout: float = 15.0) -> SmtpConfig:
        """Read `smtp://` / `smtps://` URLs (see the module docstring)."""
        try:
            parts = urlsplit(raw.strip())
            port = parts.port
        except ValueError as exc:
            raise SmtpUrlError("the SMTP URL is malformed (check the port)") from exc
        if parts.scheme not in ("smtp", "smtps"):
            raise SmtpUrlError("the SMTP URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise SmtpUrlError("the SMTP URL names no host")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = sorted(set(query) - _KNOWN_PARAMS)
        if unknown:
            raise SmtpUrlError(
                f"the SMTP URL has unknown parameters {', '.join(unknown)} "
                f"(known: {', '.join(sorted(_KNOWN_PARAMS))})"
            )
        from_addr = query.get("from", "").strip()
        if not _ADDRESS.match(from_addr):
            raise SmtpUrlError("the SMTP URL needs a sender address: ?from=name@example.com")
        user = unquote(parts.username) if parts.username else None
        mode: SecureMode
        if parts.scheme == "smtps":
            mode = "ssl"
        else:
            mode = "starttls" if _flag(query, "starttls", default=user is not None) else "insecure"
        return cls(
            host=parts.hostname,
            port=port or _DEFAULT_PORTS[mode],
            mode=mode,
            from_addr=from_addr,
            from_name=query.get("name") or None,
            user=user,
            password=unquote(parts.password) if parts.password is not None else None,
            verify_certificate=_flag(query, "verify", default=True),
            timeout=timeout,
        )

    def apprise_url(self, to: str) -> str:
        """The Apprise URL sending one message to `to`. It may hold the password: never log it."""
        scheme = "mailto" if self.mode == "insecure" else "mailtos"
        auth = ""
        if self.user:
            auth = quote(self.user, safe="")
            if self.password:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        params = {
            "smtp": self.host,
            "mode": self.mode,
            "from": self.from_addr,
            "to": to,
            "format": "html",
            "cto": f"{self.timeout:g}",
            "verify": "yes" if self.verify_certificate else "no",
        }
        if self.from_name:
            params["name"] = self.from_name
        # Apprise reads "+" literally: spaces must travel as %20
        return f"{scheme}://{auth}{host}:{self.port}/?{urlencode(params, quote_via=quote)}"

    def scrub(self, text: str) -> str:
        """`text` without the password in any of the forms it may take."""
        if not self.password:
            return text
        for form in {self.password, quote(self.password, safe=""), quote(self.password)}:
            text = text.replace(form, "***")
        return text


def _flag(query: dict[str, str], name: str, *, default: bool) -> bool:
    value = query.get(name)
    if value is None or value == "":
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise SmtpUrlError(f"the SMTP URL parameter {name} must be true or false")


class EmailSender:
    """The `email` channel: one HTML message (with Apprise's plain-text alternative) per person."""

    kind = "email"
    format = "html"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._asset = apprise.AppriseAsset(app_id="BPM", app_desc="BPM platform notifications")
        quiet_apprise()

    async def send(self, message: OutgoingMessage) -> None:
        if not _ADDRESS.match(message.address):
            raise DeliveryError("the recipient's email address is not valid", permanent=True)
        await asyncio.to_thread(self._send_blocking, message)

    def _send_blocking(self, message: OutgoingMessage) -> None:
        sender = apprise.Apprise(asset=self._asset)
        if not sender.add(self.config.apprise_url(message.address)):
            raise DeliveryError(
                "the email settings or the recipient's address are not accepted by the mailer",
                permanent=True,
            )
        result = sender.notify(
            body=message.body,
            title=message.title,
            body_format=apprise.NotifyFormat.HTML,
            log_level=logging.DEBUG,
        )
        if not result:
            failure = failure_of(result, fallback="the mail server did not accept the message")
            raise DeliveryError(self.config.scrub(failure.reason), permanent=failure.permanent)
