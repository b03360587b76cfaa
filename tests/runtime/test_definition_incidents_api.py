"""Incidents of a process definition (a timer start that could not start an instance):
listed, filtered, read one by one, retried, closed when the version no longer runs."""

from __future__ import annotations

from tests.runtime.test_timer_start_incidents import _gateway_start, _incidents, _retry
from tests.runtime.timing import admin, job_rows, later, run_at


async def _definition_incident(runtime, key: str) -> dict:
    await runtime.publish(_gateway_start(key, "<timeDuration>PT1H</timeDuration>"), key)
    await run_at(runtime, later(hours=2))
    [incident] = [i for i in await _incidents(runtime) if i["definition_key"] == key]
    return incident


async def test_instance_filter_and_pagination_with_incidents_of_no_instance(runtime):
    first = await _definition_incident(runtime, "di-a")
    second = await _definition_incident(runtime, "di-b")
    assert await _incidents(runtime, instance_id="0190f000-0000-7000-8000-000000000000") == []
    page = await runtime.client.get("/api/v1/incidents", params={"limit": 1}, headers=admin(runtime))
    assert page.status_code == 200, page.text
    body = page.json()
    assert [i["id"] for i in body["items"]] == [second["id"]] and body["next_cursor"]
    page2 = await runtime.client.get("/api/v1/incidents", params={"limit": 1, "cursor": body["next_cursor"]},
                                     headers=admin(runtime))
    assert [i["id"] for i in page2.json()["items"]] == [first["id"]]
    assert page2.json()["next_cursor"] is None
    assert [i["id"] for i in await _incidents(runtime, state="resolved")] == []


async def test_an_administrator_reads_one_incident_and_lists_a_process_s_incidents(runtime):
    """A notification names an incident of a definition, with no instance to follow: it
    is read by its id, and the process's incidents are listed by its key."""
    incident = await _definition_incident(runtime, "di-c")
    r = await runtime.client.get(f"/api/v1/incidents/{incident['id']}", headers=admin(runtime))
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json()["id"] == incident["id"] and r.json()["instance_id"] is None
    missing = await runtime.client.get(f"/api/v1/incidents/{'0' * 8}-0000-7000-8000-{'0' * 12}", headers=admin(runtime))
    assert missing.status_code == 404
    assert (await runtime.client.get(f"/api/v1/incidents/{incident['id']}", headers=runtime.auth("alice"))).status_code == 403
    listed = await runtime.client.get("/api/v1/incidents", params={"definition_key": "di-c"}, headers=admin(runtime))
    assert [i["id"] for i in listed.json()["items"]] == [incident["id"]]
    other = await runtime.client.get("/api/v1/incidents", params={"definition_key": "nothing-here"}, headers=admin(runtime))
    assert other.json()["items"] == []


async def test_retry_with_retries_in_the_body_and_refusals(runtime):
    incident = await _definition_incident(runtime, "di-d")
    r = await runtime.client.post(f"/api/v1/incidents/{incident['id']}/retry",
                                  json={"reason": "again", "retries": 5}, headers=admin(runtime))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "resolved" and r.json()["instance_id"] is None
    r = await runtime.client.post(f"/api/v1/incidents/{incident['id']}/retry",
                                  json={"reason": "again", "retries": 0}, headers=admin(runtime))
    assert r.status_code == 422, r.text
    for who in (runtime.auth("alice"), runtime.auth("bot", "worker")):
        r = await runtime.client.post(f"/api/v1/incidents/{incident['id']}/retry", json={"reason": "x"},
                                      headers=who)
        assert r.status_code == 403, r.text


async def test_retry_after_the_version_was_republished_is_refused_and_the_runtime_closes_it(runtime):
    incident = await _definition_incident(runtime, "di-e")
    await runtime.publish(_gateway_start("di-e", "<timeDuration>PT1H</timeDuration>", "${true}"), "di-e",
                          version=2)
    r = await _retry(runtime, incident["id"])
    assert r.status_code == 409, r.text
    await run_at(runtime, later(seconds=1))
    [closed] = [i for i in await _incidents(runtime) if i["id"] == incident["id"]]
    assert closed["state"] == "resolved" and closed["resolved_by"] is None, closed
    assert [j for j in await job_rows(runtime, "timer_start") if str(j["id"]) == incident["work_id"]] == []


async def test_cycle_failing_at_its_last_repetition_parks_and_schedules_nothing_more(runtime):
    await runtime.publish(_gateway_start("di-f", "<timeCycle>R2/PT1H</timeCycle>"), "di-f")
    assert await run_at(runtime, later(hours=1, minutes=1)) == 1
    assert await run_at(runtime, later(hours=2, minutes=2)) >= 1
    mine = [i for i in await _incidents(runtime) if i["definition_key"] == "di-f"]
    assert len(mine) == 2 and all(i["state"] == "open" for i in mine)
    rows = await job_rows(runtime, "timer_start")
    assert all(r["payload"].get("failed_occurrence") for r in rows if r["payload"].get("key") == "di-f"), rows
    assert await run_at(runtime, later(hours=10)) == 0
