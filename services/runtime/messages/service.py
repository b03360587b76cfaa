"""Delivering messages and signals: to waiting instances, or by starting new ones.

A message goes to one waiting subscription (several only when the sender asks for
all); when none waits it starts the latest live version of the process whose
message start event catches it. A signal is a broadcast: every waiting instance
receives it and every live process with a signal start event for it starts.
Messages and signals thrown by processes are delivered by jobs scheduled in the
throwing command's unit of work, so nothing is delivered before it committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.errors import Conflict, DomainError, NotFound, field_error
from bpm_common.logging import get_logger
from bpm_process.engine import correlate_message, receive_signal
from services.runtime.instances.service import InstanceCommands, check_variables
from services.runtime.messages import repository
from services.runtime.messages.repository import MAX_TARGETS, StartTarget

log = get_logger(__name__)

#: the instance stopped waiting, or cannot take it now (suspended, ended): skip it
SKIPPED_STATUSES = (404, 409)


class Correlation:
    """Messages and signals; created per unit of work."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.commands = InstanceCommands(session, ctx)

    # -- messages --------------------------------------------------------------------------

    async def message(
        self,
        name: str,
        *,
        correlation_key: str | None = None,
        business_key: str | None = None,
        variables: Mapping[str, Any] | None = None,
        every: bool = False,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Correlate the message (the API). 404 when nothing catches it, 409 when several
        subscriptions or start events would and `every` is false."""
        payload = dict(variables or {})
        check_variables(payload)
        waiting = await repository.waiting_for_message(self.session, name, correlation_key, business_key)
        if waiting:
            if len(waiting) > 1 and not every:
                raise Conflict(
                    f"{len(waiting)} instances wait for the message {name!r}; name a correlation_key or "
                    "business_key, or send it to all",
                    errors=[field_error("correlation_key", "matches several waiting subscriptions")],
                )
            self._check_fanout(waiting)
            delivered = []
            for target in waiting:
                summary = await self._correlate(
                    target.instance_id, str(target.subscription_id), payload, actor, skip_refused=every
                )
                if summary is not None:
                    delivered.append(summary)
            if not delivered:  # every instance that waits is suspended or stopped waiting meanwhile
                raise Conflict(
                    f"no instance that waits for the message {name!r} can take it now (suspended); "
                    "send it again after they are resumed",
                    errors=[field_error("name", "every waiting instance refused it")],
                )
            return {"result_type": "correlated", "instances": delivered}
        starts = await repository.live_starts(self.session, "message", name)
        if not starts:
            raise NotFound(
                f"no instance waits for the message {name!r} and no live process starts with it",
                errors=[field_error("name", "nothing catches this message")],
            )
        if len(starts) > 1 and not every:
            raise Conflict(
                f"{len(starts)} processes start with the message {name!r}; send it to all or rename one",
                errors=[field_error("name", "several message start events catch it")],
            )
        started = [await self._start(target, payload, business_key, actor) for target in starts]
        return {"result_type": "started", "instances": started}

    async def thrown_message(
        self, name: str, correlation_key: str | None, variables: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Deliver a message a process threw: to the oldest waiting subscription that still
        takes it, else start every live process that starts with it. None when nothing caught it."""
        payload = dict(variables)
        for target in await repository.waiting_for_message(self.session, name, correlation_key, None):
            summary = await self._correlate(
                target.instance_id, str(target.subscription_id), payload, None, skip_refused=True
            )
            if summary is not None:
                return {"result_type": "correlated", "instances": [summary]}
        starts = await repository.live_starts(self.session, "message", name)
        if not starts:
            return None
        return {"result_type": "started", "instances": [await self._start(t, payload, None, None) for t in starts]}

    async def _correlate(
        self,
        instance_id: UUID,
        subscription_id: str,
        payload: dict[str, Any],
        actor: str | None,
        *,
        skip_refused: bool,
    ) -> dict[str, Any] | None:
        """Deliver to one subscription. `skip_refused`: an instance that stopped waiting or
        cannot take it now (suspended) is skipped (None) instead of refusing the delivery."""
        try:
            async with self.session.begin_nested():
                return await self.commands.execute(
                    instance_id,
                    lambda graph, state, now, nid: correlate_message(
                        graph, state, subscription_id, variables=payload, now=now, new_id=nid
                    ),
                    actor=actor,
                    submitted=payload,
                )
        except DomainError as exc:
            if not skip_refused or exc.status not in SKIPPED_STATUSES:
                raise
            log.info("message_not_delivered", instance_id=str(instance_id), reason=exc.detail)
            return None

    # -- signals ---------------------------------------------------------------------------

    async def signal(
        self, name: str, variables: Mapping[str, Any] | None = None, *, actor: str | None = None,
        thrown_at: dt.datetime | None = None, excluded: Collection[str] = (),
    ) -> dict[str, Any]:
        """Broadcast the signal: every waiting instance receives it, every live process with a
        signal start event for it starts. Each recipient is apart: one whose model cannot
        take the signal (listed in `failed`, with why) keeps it from no other. A signal a
        process threw at `thrown_at` reaches the catches opened until then, except the
        thrower's own `excluded` ones (opened by the step that threw it)."""
        payload = dict(variables or {})
        check_variables(payload)
        reached: list[str] = []
        failed: list[dict[str, Any]] = []
        for instance_id, found in (await repository.waiting_for_signal(self.session, name, thrown_at)).items():
            waiting = [sub for sub in found if sub not in excluded]
            if not waiting:
                continue
            try:
                async with self.session.begin_nested():
                    await self.commands.execute(
                        instance_id,
                        lambda graph, state, now, nid, waiting=waiting: receive_signal(
                            graph, state, name, variables=payload, now=now, new_id=nid, only=waiting
                        ),
                        actor=actor,
                        submitted=payload,
                    )
                reached.append(str(instance_id))
            except DomainError as exc:
                if exc.status in SKIPPED_STATUSES:
                    log.info("signal_not_delivered", instance_id=str(instance_id), reason=exc.detail)
                    continue
                log.error("signal_refused", instance_id=str(instance_id), reason=exc.detail)
                failed.append({"instance_id": str(instance_id), "detail": exc.detail})
        started: list[str] = []
        for target in await repository.live_starts(self.session, "signal", name):
            try:
                async with self.session.begin_nested():
                    started.append((await self._start(target, payload, None, actor))["id"])
            except DomainError as exc:
                log.error("signal_start_refused", definition_key=target.definition.key, reason=exc.detail)
                failed.append({"definition_key": target.definition.key, "detail": exc.detail})
        return {
            "name": name,
            "reached": len(reached) + len(started),
            "instances_signalled": reached,
            "instances_started": started,
            "failed": failed,
        }

    # -- shared ----------------------------------------------------------------------------

    async def _start(
        self, target: StartTarget, payload: dict[str, Any], business_key: str | None, actor: str | None
    ) -> dict[str, Any]:
        ref = target.definition
        return await self.commands.start_on(
            ref.id, ref.key, ref.version, trial=False, initiator=actor, variables=payload,
            business_key=business_key, start_event_id=target.node_id, actor=actor,
        )

    @staticmethod
    def _check_fanout(waiting: list[Any]) -> None:
        if len(waiting) > MAX_TARGETS:
            raise Conflict(
                f"more than {MAX_TARGETS} subscriptions wait for this message; narrow it with a correlation key",
                errors=[field_error("correlation_key", "too many matches")],
            )
