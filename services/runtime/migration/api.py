"""HTTP API: Migrating running instances between versions of a process: plan, dry run,
apply in batches, progress."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request

from bpm_common.auth import Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.http import ExactJSONResponse, api_router
from bpm_common.pagination import decode_cursor, uuid_value
from services.runtime.migration import (
    batch,  # noqa: F401 - registers the migration_batch job
    service,
)
from services.runtime.migration.schemas import (
    MAX_INSTANCES,
    ApplyMigration,
    DryRun,
    MigrationItems,
    MigrationRequest,
    MigrationView,
    Plan,
    PlanRequest,
)

router = api_router(prefix="/api/v1/migrations", tags=["instance migration"])

Admin = Annotated[Principal, require_roles("admin")]


def _after(cursor: str | None) -> UUID | None:
    values = decode_cursor(cursor, uuid_value)
    return values[0] if values else None


@router.post("/plan", response_model=Plan, summary="What migrating between two versions means")
async def plan(body: PlanRequest, request: Request, session: SessionDep, principal: Admin) -> Any:
    """The diff of the two versions (mapped, removed, added nodes, nodes where waiting tokens
    need a mapping) with a suggested, editable mapping and where the old version's active
    instances wait."""
    graphs = request.app.state.ctx.extras["graphs"]
    return ExactJSONResponse(
        await service.plan(session, graphs, body.from_definition_id, body.to_definition_id)
    )


@router.post("/dry-run", response_model=DryRun, summary="What migrating would do, per instance")
async def dry_run(
    body: MigrationRequest,
    request: Request,
    session: SessionDep,
    principal: Admin,
    limit: Annotated[int, Query(ge=1, le=MAX_INSTANCES)] = 100,
    cursor: str | None = None,
) -> Any:
    """Migrates in memory only: per instance `ok` with the token moves (and, with
    `update_deadlines`, the tasks whose deadline would be recounted, due time before and
    after), or `refused` with the reason. Nothing is written."""
    graphs = request.app.state.ctx.extras["graphs"]
    return ExactJSONResponse(
        await service.dry_run(
            session,
            graphs,
            body.from_definition_id,
            body.to_definition_id,
            body.mapping,
            body.instance_ids,
            _after(cursor),
            limit,
            update_deadlines=body.update_deadlines,
            calendars=request.app.state.ctx.extras.get("calendars"),
        )
    )


@router.post(
    "", status_code=202, response_model=MigrationView, summary="Migrate instances, in batches"
)
async def apply(
    body: ApplyMigration, request: Request, session: SessionDep, principal: Admin
) -> Any:
    """Records the migration of the given instances (default: every active instance of the old
    version) and migrates them in the background, `batch_size` per transaction; an instance
    that cannot move is reported in `failures` and the others go on. With
    `update_deadlines` (the default) open tasks at nodes whose deadline rules changed follow
    the new rules; each instance's `instance_migrated` history entry lists them. Follow
    progress with `GET /migrations/{id}`."""
    result = await service.create(
        session,
        request.app.state.ctx,
        actor=principal.username,
        from_id=body.from_definition_id,
        to_id=body.to_definition_id,
        mapping=body.mapping,
        instance_ids=body.instance_ids,
        reason=body.reason,
        batch_size=body.batch_size,
        update_deadlines=body.update_deadlines,
    )
    return ExactJSONResponse(result, status_code=202)


@router.get("/{migration_id}", response_model=MigrationView, summary="A migration's progress")
async def get_migration(migration_id: UUID, session: SessionDep, principal: Admin) -> Any:
    return ExactJSONResponse(await service.view(session, migration_id))


@router.get(
    "/{migration_id}/items", response_model=MigrationItems, summary="A migration's instances"
)
async def migration_items(
    migration_id: UUID,
    session: SessionDep,
    principal: Admin,
    state: Annotated[str | None, Query(pattern="^(pending|migrated|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_INSTANCES)] = 100,
    cursor: str | None = None,
) -> Any:
    return ExactJSONResponse(
        await service.items(session, migration_id, state, _after(cursor), limit)
    )
