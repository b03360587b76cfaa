"""Forms published with a definition: start forms and task forms validated on submission.

The designer publishes each version's forms (JSON Schema 2020-12, a UI schema and
cross-field rules, dictionaries already resolved) in the definition event; the
runtime checks what a user submits against them with the same validator the
designer uses (`bpm_process.forms`), answering 422 with one entry per field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bpm_common.errors import Unprocessable, field_error
from bpm_process.bpmn import read_definitions
from bpm_process.engine.tasks import form_key_of
from bpm_process.forms import validate_form


def start_form_keys(bpmn: bytes, process_id: str) -> dict[str, str]:
    """Start event id -> form key, for the start events of `process_id` that name a form."""
    definitions = read_definitions(bpmn)
    process = next((p for p in definitions.processes if p.id == process_id), None)
    if process is None:
        return {}
    keys: dict[str, str] = {}
    for node in process.flow_nodes:
        if node.kind == "startEvent":
            key = form_key_of(node.element)
            if key:
                keys[node.id] = key
    return keys


def check_submission(
    forms: Mapping[str, Any], form_key: str | None, data: Mapping[str, Any], context: Mapping[str, Any]
) -> None:
    """Raise 422 naming each failing field when `data` does not satisfy the form `form_key`.

    A form key the definition does not publish (a key for an external form system, as
    Camunda models often carry) is not checked here.
    """
    if not form_key or form_key not in forms:
        return
    errors = validate_form(forms[form_key], data, context=context)
    if errors:
        raise Unprocessable(
            f"the submitted data does not satisfy the form {form_key}",
            errors=[
                field_error(f"variables.{e['field']}" if e["field"] else "variables", e["message"]) for e in errors
            ],
        )
