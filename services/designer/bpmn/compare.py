"""Canonical, element-by-element comparison of two XML documents.

Two documents are the same when, after C14N-style normalisation, every element has
the same expanded name, the same attributes (as a set, prefixes resolved to their
namespaces, QName values such as `xsi:type="bpmn:tFormalExpression"` resolved
too), the same text (exactly, except whitespace that only separates elements) and
the same children (elements, comments and processing instructions) in the same
order. Namespace prefixes and declarations, attribute order, quoting, empty-element
syntax, character references and the encoding do not matter.

Used to prove that the designer's export keeps a model whole (the MIWG round-trip
test) and that an edit changed only what it meant to change.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

_QNAME_VALUE = re.compile(r"^([A-Za-z_][\w.\-]*):([A-Za-z_][\w.\-]*)$")


@dataclass(frozen=True, slots=True)
class Difference:
    path: str
    """Where: `/definitions/process[@id='p1']/documentation`."""
    kind: str
    """`added`, `removed`, `attributes`, `text`, `tag`."""
    before: Any = None
    after: Any = None


def differences(before: etree._Element | bytes, after: etree._Element | bytes) -> list[Difference]:
    """Every difference between two documents (empty when they are canonically equal)."""
    left = _root(before)
    right = _root(after)
    found: list[Difference] = []
    _compare(left, right, "", found)
    return found


def canonical(element: etree._Element | bytes) -> bytes:
    """C14N 2.0 of a document, comments kept, whitespace-only text removed."""
    root = _root(element)
    return etree.canonicalize(root, strip_text=True).encode("utf-8")


def _root(value: etree._Element | bytes) -> etree._Element:
    if isinstance(value, bytes):
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        return etree.fromstring(value, parser)
    return value


def _name(element: etree._Element) -> str:
    if not isinstance(element.tag, str):
        return "comment()" if isinstance(element, etree._Comment) else "processing-instruction()"
    local = etree.QName(element).localname
    element_id = element.get("id")
    return f"{local}[@id={element_id!r}]" if element_id else local


def _key(element: etree._Element) -> tuple[str, str | None]:
    if not isinstance(element.tag, str):
        return (_name(element), (element.text or "").strip())
    return (element.tag, element.get("id"))


def _attributes(element: etree._Element) -> dict[str, str]:
    resolved = {}
    for name, value in element.attrib.items():
        match = _QNAME_VALUE.match(value)
        if match and match.group(1) in element.nsmap:
            value = f"{{{element.nsmap[match.group(1)]}}}{match.group(2)}"
        resolved[name] = value
    return resolved


def _text(value: str | None) -> str:
    return value if value is not None and value.strip() else ""


def _compare(
    left: etree._Element, right: etree._Element, parent: str, found: list[Difference]
) -> None:
    path = f"{parent}/{_name(left)}"
    if left.tag != right.tag:
        found.append(Difference(path, "tag", str(left.tag), str(right.tag)))
        return
    if isinstance(left.tag, str):
        left_attributes, right_attributes = _attributes(left), _attributes(right)
        if left_attributes != right_attributes:
            changed = {
                k: (left_attributes.get(k), right_attributes.get(k))
                for k in sorted(left_attributes.keys() | right_attributes.keys())
                if left_attributes.get(k) != right_attributes.get(k)
            }
            found.append(Difference(path, "attributes", changed, None))
    if _text(left.text) != _text(right.text):
        found.append(Difference(path, "text", left.text, right.text))
    left_children, right_children = list(left), list(right)
    for index, child in enumerate(left_children):
        if index < len(right_children) and _text(child.tail) != _text(right_children[index].tail):
            found.append(Difference(path, "text", child.tail, right_children[index].tail))
    matcher = difflib.SequenceMatcher(
        a=[_key(c) for c in left_children], b=[_key(c) for c in right_children], autojunk=False
    )
    for operation, i1, i2, j1, j2 in matcher.get_opcodes():
        if operation == "equal":
            for a, b in zip(left_children[i1:i2], right_children[j1:j2], strict=True):
                _compare(a, b, path, found)
            continue
        for removed in left_children[i1:i2]:
            found.append(Difference(f"{path}/{_name(removed)}", "removed", _short(removed), None))
        for added in right_children[j1:j2]:
            found.append(Difference(f"{path}/{_name(added)}", "added", None, _short(added)))


def _short(element: etree._Element) -> str:
    """`<name id>: text` of an added or removed node, for people reading the difference."""
    text = "".join(element.itertext()) if isinstance(element.tag, str) else (element.text or "")
    described = f"{_name(element)}: {text.strip()}"
    return described if len(described) <= 300 else described[:297] + "..."
