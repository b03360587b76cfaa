"""An incident of a process definition (a timer start that could not start an instance)
reaches the administrators like an instance's incident, without an instance to link."""

from __future__ import annotations

import datetime as dt

from bpm_common.events.envelope import new_event
from bpm_common.ids import new_id
from tests.notifier.support import user_upserted


async def test_an_incident_without_an_instance_tells_the_administrators(notifier):
    await notifier.deliver(user_upserted("admin", roles=["admin"]), user_upserted("alice"))
    incident_id = new_id()
    event = new_event("bpm.runtime.incident.created", incident_id, {
        "incident_id": incident_id, "instance_id": None, "definition_id": new_id(),
        "definition_key": "nightly-report", "definition_version": 3, "node_id": "every_night",
        "message": "the timer start event fired but the instance was refused: no way out of gateway which",
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }, source="runtime", sequence=1)
    assert await notifier.deliver(event) == ["handled"]
    [item] = (await notifier.inbox("admin"))["items"]
    assert item["kind"] == "incident" and item["urgent"] is True and item["title"] == "Incident in nightly-report"
    assert "timer start" in item["body"] and "no way out of gateway which" in item["body"]
    assert "Version" in item["body"] and "Instance" not in item["body"], item["body"]
    assert item["link"] is None
    assert (await notifier.inbox("alice"))["items"] == []
