"""Signed approve/reject links: a short JWT (HS256, the notifier's action key) naming the
person, the task, the outcome and the link's id; it expires (`exp`) and the id is recorded
when used, so each message's actions work once."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

import jwt

AUDIENCE = "bpm-notifier-action"
ISSUER = "bpm-notifier"
Outcome = Literal["approve", "reject"]
OUTCOMES: tuple[Outcome, ...] = ("approve", "reject")


class LinkInvalid(Exception):
    """Not a link of ours (tampered, truncated, signed with another key)."""


class LinkExpired(Exception):
    """A genuine link past its time."""


@dataclass(frozen=True, slots=True)
class ActionClaims:
    link_id: uuid.UUID
    username: str
    task_id: str
    outcome: Outcome
    channel: str
    expires_at: dt.datetime


class ActionSigner:
    def __init__(self, key: bytes, *, ttl: dt.timedelta) -> None:
        self._key, self.ttl = key, ttl

    def mint(
        self,
        *,
        link_id: uuid.UUID,
        username: str,
        task_id: str,
        outcome: Outcome,
        channel: str,
        now: dt.datetime,
    ) -> str:
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "jti": str(link_id),
            "sub": username,
            "task": task_id,
            "act": outcome,
            "ch": channel,
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> ActionClaims:
        """The link's claims; raises `LinkInvalid` or `LinkExpired`."""
        options = {"require": ["exp", "jti", "sub", "iss", "aud"]}
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options=options,
            )
        except jwt.ExpiredSignatureError as exc:
            raise LinkExpired("the link has expired") from exc
        except jwt.PyJWTError as exc:
            raise LinkInvalid("the link is not valid") from exc
        try:
            parsed = ActionClaims(
                link_id=uuid.UUID(str(claims["jti"])),
                username=str(claims["sub"]),
                task_id=str(claims["task"]),
                outcome=_outcome(claims.get("act")),
                channel=str(claims.get("ch") or "chat"),
                expires_at=dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise LinkInvalid("the link is not valid") from exc
        return parsed


def _outcome(value: object) -> Outcome:
    if value == "approve":
        return "approve"
    if value == "reject":
        return "reject"
    raise ValueError("unknown outcome")
