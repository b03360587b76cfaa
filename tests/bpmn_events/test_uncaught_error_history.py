"""What the history tells of a BPMN error nobody caught."""

from __future__ import annotations

from tests.bpmn_events.helpers import bpmn, complete, flows, start, task, trail, view


async def test_the_history_of_an_uncaught_error_end_event_names_the_error_code(runtime):
    """A top-level instance ended by an uncaught error: the trail says which error (its
    code and message), not only that one ended it."""
    body = ('<startEvent id="s"/>' + task("check")
            + '<endEvent id="boom"><errorEventDefinition errorRef="err_b"/></endEvent>'
            + flows("s>check", "check>boom"))
    await runtime.publish(bpmn("un-hist", body), "un-hist")
    inst = (await start(runtime, "un-hist"))["id"]
    await complete(runtime, inst, "check")
    assert (await view(runtime, inst))["state"] == "terminated"
    entries = await trail(runtime, inst)
    [ended] = [h for h in entries if h["action"] == "instance_terminated"]
    assert ended["node_id"] == "boom" and ended["details"]["reason"] == "error_unhandled"
    assert any((h.get("details") or {}).get("error_code") == "B" for h in entries), \
        "no history entry names the uncaught error's code"
