"""Countersigns whose signers are rules (`bpm:signers="role:legal, manager"`).

A multi-instance approval needs its signers as a collection. When the model names
them by roles, managers or department roles, the runtime resolves the rules against
its organisation copy when the request is submitted (as approval suites show the
approvers on submission) and puts the usernames into the variable `<node>_signers`
that the node's collection reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_process.assignment import signers_variable
from bpm_process.bpmn import read_definitions
from bpm_process.namespaces import BPM_NS
from services.runtime.deadlines.assignment import resolve_rules


def signer_rules(bpmn: bytes, process_id: str) -> dict[str, str]:
    """User task id -> its `bpm:signers` rules, for the process `process_id`."""
    definitions = read_definitions(bpmn)
    process = next((p for p in definitions.processes if p.id == process_id), None)
    if process is None:
        return {}
    found: dict[str, str] = {}
    for node in process.iter_flow_nodes():
        rules = node.element.get(f"{{{BPM_NS}}}signers") if node.kind == "userTask" else None
        if rules and rules.strip():
            found[node.id] = rules
    return found


async def resolve_signers(
    session: AsyncSession, rules_by_node: Mapping[str, str], *, initiator: str | None, variables: Mapping[str, Any]
) -> dict[str, list[str]]:
    """The signer variables to add at start: `<node>_signers` -> usernames (roles expanded).

    A variable the caller already supplied is kept (an SPA may let the initiator pick)."""
    resolved: dict[str, list[str]] = {}
    for node_id, text in rules_by_node.items():
        name = signers_variable(node_id)
        if name in variables:
            continue
        rules = [part.strip() for part in text.split(",") if part.strip()]
        result = await resolve_rules(session, rules, initiator=initiator, variables=variables, expand_roles=True)
        if not result.users:  # never an approval that nobody signs: administrators take it
            result = await resolve_rules(
                session, ["role:admin"], initiator=initiator, variables=variables, expand_roles=True
            )
        resolved[name] = result.users
    return resolved
