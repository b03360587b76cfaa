"""A paging cursor the API did not issue is a 400 naming `cursor` on every list, whatever it
holds: base64 that is not JSON, JSON of the wrong shape, or values of the wrong kind."""

from __future__ import annotations

import pytest

from bpm_common.pagination import encode_cursor
from tests.runtime.conftest import EXPENSE

ADMIN = ("admin", "admin")
FORGED = [
    "%%%",
    "bm90IGpzb24",  # base64 of "not json"
    encode_cursor({"a": 1}),
    encode_cursor("not-a-time", "not-an-id"),
    encode_cursor(1, 2),
    encode_cursor("2026-01-01T00:00:00Z", "zzz"),
    encode_cursor(None, None),
    encode_cursor("abc"),
    encode_cursor([1]),
    encode_cursor(True),
    encode_cursor("9999-99-99", "01a250c4-2bbf-7001-8d27-718571c9e5e2"),
]
LISTS = [
    ("/api/v1/process-instances", ADMIN),
    ("/api/v1/process-instances/{id}/history", ADMIN),
    ("/api/v1/process-instances/{id}/called-instances", ADMIN),
    ("/api/v1/process-instances/{id}/copies", ADMIN),
    ("/api/v1/tasks", ("bob",)),
    ("/api/v1/external-tasks", ("erp-bot", "worker")),
    ("/api/v1/incidents", ADMIN),
    ("/api/v1/copies", ("bob",)),
    ("/api/v1/calendars", ("designer", "process_designer")),
]
#: cursors that are a real position on a list keyed by a name
NAMED = {encode_cursor("abc")}


@pytest.mark.parametrize(("path", "who"), LISTS)
async def test_a_forged_cursor_is_a_bad_request_naming_the_cursor(runtime, path, who):
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement")
    started = await runtime.client.post(
        "/api/v1/process-instances",
        json={"definition_key": "expense-reimbursement", "variables": {"amount": 5}},
        headers=runtime.auth("alice"),
    )
    assert started.status_code == 201, started.text
    url = path.format(id=started.json()["id"])
    assert (await runtime.client.get(url, headers=runtime.auth(*who))).status_code == 200
    for cursor in FORGED:
        if path.endswith("/calendars") and cursor in NAMED:
            continue
        r = await runtime.client.get(url, params={"cursor": cursor}, headers=runtime.auth(*who))
        assert r.status_code == 400, (cursor, r.status_code, r.text[:300])
        assert r.json()["errors"][0]["field"] == "cursor", cursor
