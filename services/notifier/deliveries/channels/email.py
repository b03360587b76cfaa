"""Email through Apprise's `mailto://` / `mailtos://` plugin, configured by one SMTP URL.

`smtp://[user:pass@]host[:port]?from=bpm@example.com[&name=BPM][&starttls=true|false][&verify=true|false]`
sends in clear or upgrades with STARTTLS; `smtps://` speaks TLS from the first byte.
Apprise is synchronous, so each message is sent in a worker thread. The password lives
only in the Apprise URL built for the send; errors are scrubbed of it before they are
logged or stored.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import apprise
from apprise.logger import LOGGER_NAME as APPRISE_LOGGER

from services.notifier.deliveries.channels.base import DeliveryError, OutgoingMessage

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
            "format": "text",
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


def _capture_apprise_diagnostics() -> None:
    """Let Apprise's debug records reach the per-call capture of its results (the reason a
    send failed, e.g. "Connection refused"), and keep them out of the service's own log:
    the delivery worker logs each outcome itself."""
    apprise_logger = logging.getLogger(APPRISE_LOGGER)
    apprise_logger.setLevel(logging.DEBUG)
    apprise_logger.propagate = False
    if not any(isinstance(h, logging.NullHandler) for h in apprise_logger.handlers):
        apprise_logger.addHandler(logging.NullHandler())


class EmailSender:
    """The `email` channel."""

    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._asset = apprise.AppriseAsset(app_id="BPM", app_desc="BPM platform notifications")
        _capture_apprise_diagnostics()

    async def send(self, message: OutgoingMessage) -> None:
        if not _ADDRESS.match(message.address):
            raise DeliveryError("the recipient's email address is not valid")
        await asyncio.to_thread(self._send_blocking, message)

    def _send_blocking(self, message: OutgoingMessage) -> None:
        sender = apprise.Apprise(asset=self._asset)
        if not sender.add(self.config.apprise_url(message.address)):
            raise DeliveryError(
                "the email settings or the recipient's address are not accepted by the mailer"
            )
        text = message.text if not message.link else f"{message.text}\n\n{message.link}"
        result = sender.notify(
            body=text,
            title=message.subject,
            body_format=apprise.NotifyFormat.TEXT,
            log_level=logging.DEBUG,
        )
        if not result:
            raise DeliveryError(self.config.scrub(_failure_reason(result)))


def _failure_reason(result: apprise.AppriseResult) -> str:
    """The warnings and socket errors Apprise recorded for a failed send, in order."""
    reasons: list[str] = []
    entries = [entry for service in result for entry in service.logs()]
    for entry in entries:
        important = entry.level in ("WARNING", "ERROR", "CRITICAL") or "Exception" in entry.message
        if important and entry.message not in reasons:
            reasons.append(entry.message)
    return "; ".join(reasons) or "the mail server did not accept the message"
