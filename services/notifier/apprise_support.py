"""What the notifier needs around Apprise: its log kept to itself, and why a send failed.

Apprise reports a failed send as `False` plus log records. The records are captured per
call (`notify(log_level=DEBUG)` returns them in the result) and kept out of the service
log, which logs each outcome itself, scrubbed of secrets. From the records we read the
HTTP status or the connection error, to tell failures worth retrying from permanent ones.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import apprise
from apprise.logger import LOGGER_NAME as APPRISE_LOGGER

_STATUS = (
    re.compile(r"error=(\d{3})\b"),  # DingTalk, WeCom, Feishu, Slack, Teams, JSON
    re.compile(r"notification failed: (\d{3})\b"),  # Lark
)
_SMTP_REPLY = re.compile(r"\((\d{3}),")  # smtplib exceptions: (550, b'...')
_TIMEOUT = re.compile(r"timed? ?out|timeout", re.IGNORECASE)


def quiet_apprise() -> None:
    """Let Apprise's debug records reach the per-call capture, and nothing else."""
    apprise_logger = logging.getLogger(APPRISE_LOGGER)
    apprise_logger.setLevel(logging.DEBUG)
    apprise_logger.propagate = False
    if not any(isinstance(h, logging.NullHandler) for h in apprise_logger.handlers):
        apprise_logger.addHandler(logging.NullHandler())


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a send failed: the text for the log, and whether trying again may help."""

    reason: str
    permanent: bool = False
    status: int | None = None

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


def failure_of(result: apprise.AppriseResult, *, fallback: str) -> Failure:
    """Read a failed `notify()` result: its warnings, socket errors and HTTP status."""
    reasons: list[str] = []
    status: int | None = None
    smtp: int | None = None
    for service in result:
        for entry in service.logs():
            message = entry.message
            important = entry.level in ("WARNING", "ERROR", "CRITICAL") or "Exception" in message
            if important and message not in reasons:
                reasons.append(message)
            for pattern in _STATUS:
                found = pattern.search(message)
                if found and status is None:
                    status = int(found.group(1))
            reply = _SMTP_REPLY.search(message) if "Exception" in message else None
            if reply and smtp is None:
                smtp = int(reply.group(1))
    reason = "; ".join(reasons) or fallback
    if status is not None:
        return Failure(reason, permanent=is_permanent_http(status), status=status)
    if smtp is not None:
        return Failure(reason, permanent=500 <= smtp < 600)
    return Failure(reason)


def is_permanent_http(status: int) -> bool:
    """A 4xx answer other than timeout and rate limit: the request or its settings are wrong."""
    return 400 <= status < 500 and status not in (408, 425, 429)


def is_timeout(reason: str) -> bool:
    return bool(_TIMEOUT.search(reason))
