"""A BPMN document as the designer holds it: the parsed lxml tree of what was imported,
edited in place and serialised back in the document's own encoding.

Everything the designer does not understand (other tools' extension elements,
several diagrams, comments, unknown attributes, label bounds) stays in the tree
untouched, so an export keeps it. An unedited document exports the imported bytes
themselves; an edited one is serialised from the tree with the original XML
declaration and encoding (ISO-8859-1 stays ISO-8859-1).

Edits (`set_name`, `set_documentation`, `set_bpm_attributes`, `set_raci`,
`set_form_key`) respect the element order of the BPMN schema: `documentation`
first, then `extensionElements`, then the rest. Our own `bpm` namespace is declared
on the root element the first time an edit needs it.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from bpm_process.namespaces import (
    ACTIVITI_NS,
    BPM_NS,
    BPM_PREFIX,
    BPMN_NS,
    CAMUNDA_NS,
    FLOWABLE_NS,
    ZEEBE_NS,
)
from services.designer.definitions.parsing import Limits, ParsedModel, parse_model

RACI_ROLES = ("responsible", "approver", "consulted", "informed")
FORM_PREFIX = "form:"

_DECLARATION = re.compile(r"^\ufeff?\s*(<\?xml[^>]*\?>)")
_DIALECT_PREFIXES = {CAMUNDA_NS: "camunda", FLOWABLE_NS: "flowable", ACTIVITI_NS: "activiti"}


class ElementNotFound(LookupError):
    """No element of the document has the id."""

    def __init__(self, element_id: str) -> None:
        super().__init__(f"no element with id {element_id!r}")
        self.element_id = element_id


@dataclass(frozen=True, slots=True)
class Raci:
    """Rules (as in `bpm:assignment`) for each RACI role of a node; None leaves it out."""

    responsible: str | None = None
    approver: str | None = None
    consulted: str | None = None
    informed: str | None = None

    def items(self) -> list[tuple[str, str]]:
        return [(role, value) for role in RACI_ROLES if (value := getattr(self, role))]


def bpmn(local: str) -> str:
    return f"{{{BPMN_NS}}}{local}"


def bpm(local: str) -> str:
    return f"{{{BPM_NS}}}{local}"


class BpmnDocument:
    """The parsed tree of one BPMN document, its encoding and XML declaration."""

    def __init__(
        self,
        root: etree._Element,
        *,
        source: bytes | None,
        encoding: str = "UTF-8",
        declaration: str | None = '<?xml version="1.0" encoding="UTF-8"?>',
        bom: bool = False,
    ) -> None:
        self._root = root
        self._source = source
        self.encoding = encoding
        self.declaration = declaration
        self.bom = bom
        self.edited = source is None

    # --- reading and writing -------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes, limits: Limits) -> BpmnDocument:
        """Parse safely (see `parse_model`); raises `XmlRefused` or `BpmnInvalid`."""
        return cls.from_parsed(data, parse_model(data, limits))

    @classmethod
    def from_parsed(cls, data: bytes, parsed: ParsedModel) -> BpmnDocument:
        encoding = parsed.root.getroottree().docinfo.encoding or "UTF-8"
        return cls(
            parsed.root,
            source=data,
            encoding=encoding,
            declaration=_declaration_of(data, encoding),
            bom=data.startswith(codecs.BOM_UTF8),
        )

    @property
    def root(self) -> etree._Element:
        return self._root

    def to_bytes(self) -> bytes:
        """The document: the imported bytes while unedited, else the serialised tree."""
        if not self.edited and self._source is not None:
            return self._source
        return self.serialize()

    def serialize(self) -> bytes:
        """The tree in the document's encoding, with its original XML declaration."""
        tree = self._root.getroottree()
        if self.encoding.lower().replace("-", "").startswith(("utf16", "utf32")):
            return etree.tostring(tree, encoding=self.encoding, xml_declaration=True)
        body = etree.tostring(tree, encoding=self.encoding, xml_declaration=False)
        head = b""
        if self.bom:
            head += codecs.BOM_UTF8
        if self.declaration is not None:
            head += self.declaration.encode("ascii", "xmlcharrefreplace") + b"\n"
        return head + body

    # --- finding -------------------------------------------------------------------------

    def find(self, element_id: str) -> etree._Element:
        """The element with this id (BPMN or DI); `ElementNotFound` otherwise."""
        for element in self._root.iter():
            if isinstance(element.tag, str) and element.get("id") == element_id:
                return element
        raise ElementNotFound(element_id)

    def processes(self) -> list[etree._Element]:
        return self._root.findall(bpmn("process"))

    # --- edits ---------------------------------------------------------------------------

    def set_name(self, element_id: str, name: str | None) -> None:
        element = self.find(element_id)
        if name is None:
            element.attrib.pop("name", None)
        else:
            element.set("name", name)
        self.edited = True

    def set_documentation(self, element_id: str, text: str | None) -> None:
        """Set the text of the element's first `documentation` (created when missing);
        None removes it."""
        element = self.find(element_id)
        current = element.find(bpmn("documentation"))
        if text is None:
            if current is not None:
                _remove(current)
        elif current is not None:
            for child in list(current):
                current.remove(child)
            current.text = text
        else:
            documentation = etree.Element(bpmn("documentation"))
            documentation.text = text
            _insert_first(element, documentation)
        self.edited = True

    def set_bpm_attributes(self, element_id: str, values: Mapping[str, str | None]) -> None:
        """Set (or remove, for None) attributes of our `bpm` namespace on an element."""
        element = self.find(element_id)
        if any(v is not None for v in values.values()):
            self.declare(BPM_PREFIX, BPM_NS)
            element = self.find(element_id)
        for local, value in values.items():
            if value is None:
                element.attrib.pop(bpm(local), None)
            else:
                element.set(bpm(local), value)
        self.edited = True

    def set_raci(self, element_id: str, raci: Raci | None) -> None:
        """Write `<bpm:raci>` inside the node's `extensionElements` (None or empty removes it)."""
        items = raci.items() if raci is not None else []
        if items:
            self.declare(BPM_PREFIX, BPM_NS)
        element = self.find(element_id)
        extensions = element.find(bpmn("extensionElements"))
        if extensions is not None:
            for old in extensions.findall(bpm("raci")):
                _remove(old)
        if items:
            extensions = self._extension_elements(element)
            block = etree.SubElement(extensions, bpm("raci"))
            for role, value in items:
                etree.SubElement(block, bpm(role)).text = value
        if extensions is not None and len(extensions) == 0 and not (extensions.text or "").strip():
            _remove(extensions)
        self.edited = True

    def set_form_key(self, element_id: str, form: str | None) -> None:
        """Point a start event or user task at `form:<form>` (None removes the reference).

        The dialect the element already uses keeps being used (`flowable:formKey`,
        `activiti:formKey`, `zeebe:formDefinition`); an element without a form key gets
        one in the dialect the document declares (a Flowable or Activiti model stays
        one), else `camunda:formKey`. Removing removes the `form:` reference in every
        dialect (an Activiti key left behind would still name the form) and keeps
        other tools' form keys.
        """
        element = self.find(element_id)
        value = f"{FORM_PREFIX}{form}" if form is not None else None
        zeebe = element.find(f"{bpmn('extensionElements')}/{{{ZEEBE_NS}}}formDefinition")
        if zeebe is not None:
            if value is None:
                zeebe.attrib.pop("formKey", None)
            else:
                zeebe.set("formKey", value)
            self.edited = True
            return
        if value is None:
            for namespace in _DIALECT_PREFIXES:
                if form_name(element.get(f"{{{namespace}}}formKey")) is not None:
                    element.attrib.pop(f"{{{namespace}}}formKey", None)
        else:
            namespace = self._form_dialect(element)
            self.declare(_DIALECT_PREFIXES[namespace], namespace)
            self.find(element_id).set(f"{{{namespace}}}formKey", value)
        self.edited = True

    def _form_dialect(self, element: etree._Element) -> str:
        """The namespace to write a form key in: where the element names one of our
        forms; else over Flowable's or Camunda's key of another tool (Camunda's wins
        over an Activiti key, which stays); else the document's dialect."""
        keys = {ns: element.get(f"{{{ns}}}formKey") for ns in _DIALECT_PREFIXES}
        for namespace, key in keys.items():
            if form_name(key) is not None:
                return namespace
        if any(key is not None for key in keys.values()):
            return FLOWABLE_NS if keys[FLOWABLE_NS] is not None else CAMUNDA_NS
        declared = set(self._root.nsmap.values())
        for namespace in (CAMUNDA_NS, FLOWABLE_NS, ACTIVITI_NS):
            if namespace in declared:
                return namespace
        return CAMUNDA_NS

    # --- namespaces ----------------------------------------------------------------------

    def declare(self, prefix: str, uri: str) -> str:
        """Declare `uri` on the root element (under `prefix`, or a free variant of it)
        unless it is declared there already; returns the prefix in use."""
        for existing, namespace in self._root.nsmap.items():
            if namespace == uri and existing is not None:
                return existing
        chosen = prefix
        counter = 1
        while chosen in self._root.nsmap:
            counter += 1
            chosen = f"{prefix}{counter}"
        self._replace_root({**self._root.nsmap, chosen: uri})
        return chosen

    def _replace_root(self, nsmap: dict[str | None, str]) -> None:
        """lxml cannot add a declaration to an existing element: rebuild the root with
        the wider namespace map and move everything into it, siblings included."""
        old = self._root
        before = list(old.itersiblings(preceding=True))
        after = list(old.itersiblings())
        new = etree.Element(old.tag, nsmap=nsmap)
        for key, value in old.attrib.items():
            new.set(key, value)
        new.text = old.text
        for child in list(old):
            new.append(child)
        for sibling in reversed(before):
            new.addprevious(sibling)
        for sibling in after:
            new.addnext(sibling)
        self._root = new
        self.edited = True

    def _extension_elements(self, element: etree._Element) -> etree._Element:
        existing = element.find(bpmn("extensionElements"))
        if existing is not None:
            return existing
        extensions = etree.Element(bpmn("extensionElements"))
        documentation = element.findall(bpmn("documentation"))
        if documentation:
            documentation[-1].addnext(extensions)
            _fix_tail(documentation[-1], extensions)
        else:
            _insert_first(element, extensions)
        return extensions


def read_raci(element: etree._Element) -> Raci | None:
    """The `<bpm:raci>` of a node, if it has one."""
    block = element.find(f"{bpmn('extensionElements')}/{bpm('raci')}")
    if block is None:
        return None
    values = {}
    for role in RACI_ROLES:
        child = block.find(bpm(role))
        text = "".join(child.itertext()).strip() if child is not None else ""
        values[role] = text or None
    return Raci(**values)


def form_key_of(element: etree._Element) -> str | None:
    """The form a start event or user task names (`form:<name>` in any dialect), or None."""
    for namespace in (CAMUNDA_NS, FLOWABLE_NS, "http://activiti.org/bpmn"):
        value = element.get(f"{{{namespace}}}formKey")
        if value:
            return value.strip()
    zeebe = element.find(f"{bpmn('extensionElements')}/{{{ZEEBE_NS}}}formDefinition")
    if zeebe is not None and zeebe.get("formKey"):
        return (zeebe.get("formKey") or "").strip()
    return None


def form_name(form_key: str | None) -> str | None:
    """`expense` for `form:expense`; None for other form keys (another tool's forms)."""
    if form_key and form_key.startswith(FORM_PREFIX):
        return form_key[len(FORM_PREFIX) :].strip() or None
    return None


def _declaration_of(data: bytes, encoding: str) -> str | None:
    try:
        head = data[:400].decode(encoding, errors="ignore")
    except LookupError:
        head = data[:400].decode("latin-1")
    match = _DECLARATION.match(head)
    return match.group(1) if match else None


def _insert_first(parent: etree._Element, child: etree._Element) -> None:
    """Insert `child` as the first element of `parent`, indented like its siblings."""
    parent.insert(0, child)
    indent = parent.text if parent.text and not parent.text.strip() else None
    if indent is not None:
        child.tail = indent
    elif len(parent) > 1:
        child.tail = None


def _fix_tail(previous: etree._Element, inserted: etree._Element) -> None:
    inserted.tail = previous.tail
    if previous.tail is not None and previous.tail.strip():
        inserted.tail = None


def _remove(element: etree._Element) -> None:
    """Remove an element, keeping the text that followed it only when it was content."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    previous = element.getprevious()
    if tail and tail.strip():
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)
