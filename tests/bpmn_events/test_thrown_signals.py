"""Signals thrown by a process and the subscriptions that exist when they are thrown."""

from __future__ import annotations

from tests.bpmn_events.helpers import bpmn, flows, open_nodes, run_jobs, start, task, view


async def test_a_signal_thrown_before_the_catch_was_reached_is_not_caught_by_it(runtime):
    """BPMN 10.4.5 / Camunda 7: a thrown signal reaches the catch events that wait when it
    is thrown. The catch this instance reaches after its own throw was not waiting yet."""
    body = ('<startEvent id="s"/><intermediateThrowEvent id="shout"><signalEventDefinition signalRef="sig_go"/>'
            '</intermediateThrowEvent><intermediateCatchEvent id="listen"><signalEventDefinition '
            'signalRef="sig_go"/></intermediateCatchEvent>' + task("after") + '<endEvent id="e"/>'
            + flows("s>shout", "shout>listen", "listen>after", "after>e"))
    await runtime.publish(bpmn("own-signal", body), "own-signal")
    inst = (await start(runtime, "own-signal"))["id"]
    assert (await view(runtime, inst))["active_nodes"] == ["listen"]
    await run_jobs(runtime)
    assert (await view(runtime, inst))["active_nodes"] == ["listen"], "its own earlier signal passed it"
    assert await open_nodes(runtime, inst) == []
