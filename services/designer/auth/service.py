"""Checking a user's password for the gateway's token issuer, and telling it which
users' earlier tokens no longer hold."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select
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
    """
    name = username.strip().lower()
    user = await org_repo.get_user(session, name)
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
    )


async def revocations(session: AsyncSession, since: dt.datetime) -> Revocations:
    """The users whose tokens issued before a moment after `since` no longer hold (their
    account was deactivated or deleted, or its roles, department or password changed),
    with that moment; and the time of the answer, for the next question's `since`."""
    as_of = (await session.execute(select(func.clock_timestamp()))).scalar_one()
    rows = await session.execute(
        select(User.username, User.tokens_valid_after)
        .where(User.tokens_valid_after > since)
        .order_by(User.tokens_valid_after)
    )
    return Revocations(
        items=[Revocation(username=name, valid_after=moment) for name, moment in rows],
        as_of=as_of,
    )
