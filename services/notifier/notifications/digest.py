"""The daily digest: at each person's chosen local time, one message listing their open
tasks, instead of single messages about new and due tasks on outgoing channels.

Any replica may run a round; the people are locked (`FOR UPDATE SKIP LOCKED`) while their
digest is made, and the digest's notification id comes from (person, local date), so a
day never has two.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext, Worker
from bpm_common.db import Database
from bpm_common.jsonutil import jsonable
from bpm_common.logging import get_logger
from services.notifier.notifications import repository
from services.notifier.notifications.kinds import Kind
from services.notifier.notifications.service import NotificationRules, Subject
from services.notifier.org.models import OrgUser
from services.notifier.preferences import repository as preferences
from services.notifier.preferences.models import NotificationPreference
from services.notifier.preferences.rules import digest_day

log = get_logger(__name__)

DIGEST_EVENT = "bpm.notifier.digest"
_NAMESPACE = uuid.UUID("3b0f6a5e-6d1c-4c64-9a51-6a4c2f0d2b7e")
_PEOPLE_PER_ROUND = 1000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DigestJob:
    def __init__(
        self,
        db: Database,
        rules: NotificationRules,
        *,
        interval: float = 60.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db, self.rules, self.interval, self.clock = db, rules, interval, clock

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the job outlives database hiccups
                log.warning("digest_round_failed", error=repr(exc))
            await asyncio.sleep(self.interval)

    async def run_once(self, now: dt.datetime | None = None) -> int:
        """Make the digests due at `now`; returns how many people got one."""
        now = now or self.clock()
        made = 0
        async with self.db.transaction() as session:
            for pref in await preferences.digest_candidates(session, _PEOPLE_PER_ROUND):
                day = digest_day(pref, now)
                if day is None:
                    continue
                pref.digest_sent_on = day
                made += await self._digest(session, pref, day, now)
        return made

    async def _digest(
        self, session: AsyncSession, pref: NotificationPreference, day: dt.date, now: dt.datetime
    ) -> int:
        user = await session.get(OrgUser, pref.username)
        if user is None or not user.reachable:
            return 0
        tasks = await repository.open_tasks_for(session, user.username, list(user.roles))
        if not tasks:
            return 0
        base = self.rules.public_url.rstrip("/")
        context = jsonable(
            {
                "at": now,
                "tasks": [
                    {
                        "name": t.name,
                        "process_key": t.definition_key,
                        "business_key": t.business_key,
                        "due_at": t.due_at,
                        "link": f"{base}/tasks/{t.task_id}",
                    }
                    for t in tasks
                ],
            }
        )
        subject = Subject(
            kind=Kind.DIGEST,
            context=context,
            link=f"{base}/tasks",
            data={"tasks": len(tasks), "day": day.isoformat()},
        )
        recipients = await self.rules.recipients_of(session, [user.username])
        event_id = uuid.uuid5(_NAMESPACE, f"{user.username}/{day.isoformat()}")
        await self.rules.notify(session, event_id, DIGEST_EVENT, subject, recipients)
        return 1


def digest_worker(rules: NotificationRules, interval: float) -> Worker:
    async def digests(ctx: ServiceContext) -> None:
        await DigestJob(ctx.db, rules, interval=interval).run()

    return digests
