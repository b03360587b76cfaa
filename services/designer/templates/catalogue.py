"""The templates shipped with the designer, read from the files beside this module."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bpm_common.errors import NotFound
from bpm_process.bpmn import read_definitions

FOLDER = Path(__file__).resolve().parent
NAMES = (
    "expense-reimbursement",
    "purchase-request",
    "customer-complaint",
    "order-handling",
    "contract-approval",
)


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    key: str
    title: dict[str, str]
    description: str
    bpmn: bytes
    forms: dict[str, dict[str, Any]]
    dictionaries: dict[str, dict[str, Any]]


@cache
def load(name: str) -> Template:
    if name not in NAMES:
        raise NotFound(f"no template {name!r}; there are {', '.join(NAMES)}")
    bpmn = (FOLDER / f"{name}.bpmn").read_bytes()
    meta = json.loads((FOLDER / f"{name}.json").read_text(encoding="utf-8"))
    process = read_definitions(bpmn).executable_processes[0]
    return Template(
        name=name,
        key=process.id,
        title=meta["title"],
        description=meta["description"],
        bpmn=bpmn,
        forms=meta["forms"],
        dictionaries=meta.get("dictionaries", {}),
    )


def all_templates() -> list[Template]:
    return [load(name) for name in NAMES]
