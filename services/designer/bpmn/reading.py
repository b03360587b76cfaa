"""Small readings of a parsed BPMN tree that several domains need."""

from __future__ import annotations

from lxml import etree

from services.designer.bpmn.document import form_key_of, form_name

_FORM_HOLDERS = ("startEvent", "userTask")


def referenced_forms(root: etree._Element) -> dict[str, list[str]]:
    """`form:<name>` references of start events and user tasks: name → element ids."""
    found: dict[str, list[str]] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or etree.QName(element).localname not in _FORM_HOLDERS:
            continue
        name = form_name(form_key_of(element))
        if name is not None:
            found.setdefault(name, []).append(element.get("id") or "")
    return found
