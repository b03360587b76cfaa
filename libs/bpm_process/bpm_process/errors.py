"""Errors raised while reading BPMN documents.

Every problem found in a document is reported as a :class:`BpmnError`. It is a
``ValueError`` so callers that only care about "bad input" can catch that, and it
carries a list of structured entries (``errors``) that an HTTP layer can render as the
``errors`` member of a problem+json body.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

__all__ = ["BpmnError", "ErrorEntry", "error_entry"]


class _ErrorEntryBase(TypedDict):
    element_id: str | None
    message: str


class ErrorEntry(_ErrorEntryBase, total=False):
    """One problem in a BPMN document; ``line`` is present when it is known."""

    line: int


def error_entry(element_id: str | None, message: str, line: int | None = None) -> ErrorEntry:
    """Build one error entry, leaving ``line`` out when it is unknown."""
    entry: ErrorEntry = {"element_id": element_id, "message": message}
    if line is not None:
        entry["line"] = line
    return entry


class BpmnError(ValueError):
    """A BPMN document is malformed, unsafe, or uses something that is not supported.

    ``errors`` lists every problem found (at least one), each a dict with the keys
    ``element_id`` (``None`` when the problem is not tied to an element), ``message``
    and, when known, ``line``.
    """

    def __init__(self, message: str, errors: Iterable[ErrorEntry] | None = None) -> None:
        entries = list(errors) if errors is not None else []
        if not entries:
            entries = [error_entry(None, message)]
        super().__init__(message)
        self.message = message
        self.errors: list[ErrorEntry] = entries

    def __str__(self) -> str:
        if len(self.errors) == 1 and self.errors[0]["message"] == self.message:
            return _describe(self.errors[0])
        details = "; ".join(_describe(entry) for entry in self.errors)
        return f"{self.message}: {details}"


def _describe(entry: ErrorEntry) -> str:
    where = []
    if entry.get("element_id"):
        where.append(f"element {entry['element_id']!r}")
    if entry.get("line") is not None:
        where.append(f"line {entry['line']}")
    prefix = f"{', '.join(where)}: " if where else ""
    return f"{prefix}{entry['message']}"
