"""The suggestion box: anyone proposes, designers, admins and process owners triage."""

from __future__ import annotations

from tests.designer.conftest import ADMIN, DESIGNER, EMPLOYEE, SIMPLE, upload

IDEA = {
    "process_key": "p1",
    "title": "Skip the finance review for small claims",
    "problem": "Claims under 100 wait a day for finance.",
    "proposal": "Let the department review be the last step below 100.",
    "expected_effect": "A day less for most claims.",
    "difficulty": "low",
}
OWNER = ("olga", "process_owner")


async def propose(client, user=EMPLOYEE, **changes):
    return await client.post(
        "/api/v1/suggestions", json={**IDEA, **changes}, headers=client.as_user(*user)
    )


async def triage(client, suggestion_id: str, status: str, user=DESIGNER, note: str | None = None):
    return await client.post(
        f"/api/v1/suggestions/{suggestion_id}/triage",
        json={"status": status, "note": note},
        headers=client.as_user(*user),
    )


async def test_an_employee_proposes_and_owners_triage(client):
    await upload(client, SIMPLE)
    created = await propose(client)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["author"], body["difficulty"]) == ("new", "alice", "low")
    assert (await triage(client, body["id"], "accepted", user=EMPLOYEE)).status_code == 403
    accepted = await triage(client, body["id"], "accepted", user=OWNER, note="good idea")
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["status"], accepted.json()["triaged_by"]) == ("accepted", "olga")
    done = await triage(client, body["id"], "done", user=ADMIN)
    assert done.json()["status"] == "done"
    assert done.json()["triage_note"] == "good idea"
    closed = await triage(client, body["id"], "declined")
    assert closed.status_code == 409
    assert closed.json()["errors"][0]["field"] == "status"


async def test_new_suggestions_can_be_declined_but_not_done(client):
    await upload(client, SIMPLE)
    body = (await propose(client)).json()
    assert (await triage(client, body["id"], "done")).status_code == 409
    assert (await triage(client, body["id"], "declined")).json()["status"] == "declined"


async def test_suggestions_are_listed_by_process_and_status(client):
    await upload(client, SIMPLE)
    ids = [(await propose(client, title=f"idea {n}")).json()["id"] for n in range(3)]
    await triage(client, ids[0], "accepted")
    reader = client.as_user("bob")
    page = (
        await client.get(
            "/api/v1/suggestions", params={"process_key": "p1", "limit": 2}, headers=reader
        )
    ).json()
    assert [s["id"] for s in page["items"]] == [ids[2], ids[1]]
    rest = (
        await client.get(
            "/api/v1/suggestions",
            params={"process_key": "p1", "limit": 2, "cursor": page["next_cursor"]},
            headers=reader,
        )
    ).json()
    assert [s["id"] for s in rest["items"]] == [ids[0]]
    accepted = (
        await client.get("/api/v1/suggestions", params={"status": "accepted"}, headers=reader)
    ).json()
    assert [s["id"] for s in accepted["items"]] == [ids[0]]


async def test_a_suggestion_needs_a_known_process_and_every_part(client):
    unknown = await propose(client, process_key="nope")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "process_key"
    await upload(client, SIMPLE)
    incomplete = await propose(client, proposal="", difficulty="trivial")
    assert incomplete.status_code == 422
    assert {e["field"] for e in incomplete.json()["errors"]} == {"proposal", "difficulty"}
