"""Fixtures of the tests of models from other tools: the designer app (uploads, lint, publish) and the
runtime app (start, inbox, complete), each on its own rolled-back database.

`deploy()` goes the way a user goes: upload the modeller's file to the designer,
publish it, and hand the runtime exactly the bytes the designer published.
"""

from __future__ import annotations

import base64
import gzip
from typing import Any

from tests.designer.conftest import client, db, events, settings_overrides, upload, xml_headers  # noqa: F401
from tests.runtime.conftest import runtime  # noqa: F401

__all__ = ["deploy", "published_bytes", "start", "inbox", "complete"]


async def published_bytes(db_: Any, key: str) -> bytes:
    """The BPMN bytes of the last `definition.published` event of `key` in the outbox."""
    found = [e for e in await events(db_, "bpm.designer.definition.published") if e.data["key"] == key]
    assert found, f"no published event for {key}"
    return gzip.decompress(base64.b64decode(found[-1].data["bpmn_gzip_b64"]))


async def deploy(client_: Any, db_: Any, runtime_: Any, data: bytes) -> dict[str, Any]:
    """Upload and publish through the designer; send the published bytes to the runtime."""
    uploaded = await upload(client_, data)
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    published = await client_.post(
        f"/api/v1/definitions/{body['id']}/publish", json={}, headers=client_.as_user("dora", "process_designer")
    )
    assert published.status_code == 200, published.text
    await runtime_.publish(await published_bytes(db_, body["key"]), body["key"])
    return body


async def start(runtime_: Any, key: str, user: str = "alice", variables: dict | None = None) -> Any:
    return await runtime_.client.post(
        "/api/v1/process-instances",
        json={"definition_key": key, "variables": variables or {}},
        headers=runtime_.auth(user),
    )


async def inbox(runtime_: Any, user: str, *roles: str) -> list[dict[str, Any]]:
    r = await runtime_.client.get("/api/v1/tasks", headers=runtime_.auth(user, *roles))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def complete(runtime_: Any, task: dict[str, Any], user: str, variables: dict | None = None,
                   *roles: str) -> Any:
    return await runtime_.client.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"variables": variables or {}},
        headers=runtime_.auth(user, *roles),
    )
