"""A Camunda Modeler 5 (Camunda 7) model as the modeller saves it: a collaboration with
a non-executable pool, lanes, a message flow, a text annotation, a data object, DI,
`camunda:initiator`, candidate users and groups `a,b`, formKey, formData, inputOutput,
asyncBefore/After, dueDate, priority, `#{}` expressions and a default flow. Uploaded,
published and run through the two services' APIs."""

from __future__ import annotations

from pathlib import Path

from tests.compat.conftest import complete, deploy, inbox, start

INVOICE = (Path(__file__).parent / "models" / "camunda7_invoice.bpmn").read_bytes()


async def test_a_camunda_modeler_model_runs_unchanged(client, db, runtime):
    body = await deploy(client, db, runtime, INVOICE)
    assert body["key"] == "invoice_approval" and body["name"] == "Invoice approval"
    await runtime.user("carol", "finance_reviewer", department="finance")
    started = await start(runtime, "invoice_approval", "alice", {"amount": 9000, "director": "dave"})
    assert started.status_code == 201, started.text
    instance = started.json()

    [review] = await inbox(runtime, "carol")
    assert review["node_id"] == "Task_Review"
    assert set(review["candidate_roles"]) == {"finance_reviewer", "accounting"}
    assert review["due_at"] is not None
    assert [t["node_id"] for t in await inbox(runtime, "bob")] == ["Task_Review"]
    assert (await complete(runtime, review, "carol")).status_code == 200

    [director] = await inbox(runtime, "dave")
    assert director["node_id"] == "Task_Director" and director["assignee"] == "dave"
    assert (await complete(runtime, director, "dave")).status_code == 200
    # camunda:initiator="submitter" names the starting user
    [pay] = await inbox(runtime, "alice")
    assert pay["node_id"] == "Task_Pay" and pay["assignee"] == "alice"
    done = await complete(runtime, pay, "alice")
    assert done.json()["instance_state"] == "completed"
    view = (await runtime.client.get(f"/api/v1/process-instances/{instance['id']}",
                                     headers=runtime.auth("alice"))).json()
    assert view["variables"]["submitter"] == "alice"


async def test_output_parameters_apply_when_a_task_is_completed_without_variables(
    client, db, runtime
):
    """Camunda 7 evaluates `camunda:outputParameter` whenever the activity ends, also
    when the completion carries no variables."""
    await deploy(client, db, runtime, INVOICE)
    await runtime.user("carol", "finance_reviewer", department="finance")
    started = await start(runtime, "invoice_approval", "alice", {"amount": 10, "director": "dave"})
    [review] = await inbox(runtime, "carol")
    assert (await complete(runtime, review, "carol")).status_code == 200
    view = (await runtime.client.get(f"/api/v1/process-instances/{started.json()['id']}",
                                     headers=runtime.auth("alice"))).json()
    assert view["variables"].get("reviewed") is True, view["variables"]
