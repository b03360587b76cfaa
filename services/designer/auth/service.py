"""Checking a user's password for the gateway's token issuer, and telling it which
users' earlier tokens no longer hold."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Unauthorized
from services.designer.auth.passwords import verify_password
from services.designer.auth.schemas import Revocation, Revocations, VerifyOut
from services.designer.org import repository as org_repo
from services.designer.org.models import User


async def verify(
    session: AsyncSession, username: str, password: str, *, scrypt_n: int
) -> VerifyOut:
    """The user's identity when the password is right and the user active.

    Unknown user, wrong password, no password and inactive user all get the same
    401, and the password is hashed in every case, so neither the answer nor its
    timing tells which it was.

    The row is read under a share lock, so a change of the account in flight (a
    deactivation, new roles) is waited for; `checked_at`, the moment the account was
    read, becomes the token's issue time. A change stamps `tokens_valid_after` once it
    holds the row, so a token made from the account as it was before a change is
    always issued before that change, and refused with it.
    """
    name = username.strip().lower()
    user = await org_repo.get_user(session, name, for_share=True)
    checked_at = dt.datetime.now(dt.UTC)
    stored = user.password_hash if user is not None else None
    matches = await asyncio.to_thread(verify_password, password, stored, n=scrypt_n)
    if user is None or not matches or not user.active:
        raise Unauthorized("wrong username or password", headers=None)
    roles = (await org_repo.roles_of(session, [name]))[name]
    return VerifyOut(
        username=user.username,
        roles=roles,
        department=user.department_key,
        display_name=user.display_name,
        email=user.email,
        locale=user.locale,
        checked_at=checked_at,
    )


#: the time of an answer: now, or the start of the oldest transaction still open that has
#: written (it may hold a change stamped before now that commits after this answer: the
#: next question, from this time on, then sees it)
_AS_OF = text(
    "SELECT least(clock_timestamp(), (SELECT min(xact_start) FROM pg_stat_activity"
    " WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()))"
)


async def revocations(session: AsyncSession, since: dt.datetime) -> Revocations:
    """The users whose tokens issued before a moment after `since` no longer hold (their
    account was deactivated or deleted, or its roles, department or password changed),
    with that moment; and the time of the answer, for the next question's `since`."""
    as_of = (await session.execute(_AS_OF)).scalar_one()
    rows = await session.execute(
        select(User.username, User.tokens_valid_after)
        .where(User.tokens_valid_after > since)
        .order_by(User.tokens_valid_after)
    )
    return Revocations(
        items=[Revocation(username=name, valid_after=moment) for name, moment in rows],
        as_of=as_of,
    )
