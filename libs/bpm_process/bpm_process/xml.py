"""Safe parsing of XML documents (BPMN models) with lxml.

Models arrive from users, so the parser is configured for hostile input:

* a document with a DOCTYPE is refused outright, before libxml2 sees it. Without a
  DTD there can be no entity declarations, hence no external entities (file or network
  reads) and no entity-expansion bombs. BPMN never needs a DTD.
* the parser itself never resolves entities, never loads a DTD and never touches the
  network, as a second line of defence;
* the size is checked before parsing and the element nesting depth after it.

The declared encoding (``<?xml version="1.0" encoding="ISO-8859-1"?>``) is honoured
because the parser is given the raw bytes.
"""

from __future__ import annotations

import codecs

from lxml import etree

from bpm_process.errors import BpmnError, error_entry

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "BpmnError", "parse_xml"]

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_DEPTH = 100

_WHITESPACE = " \t\r\n"


def parse_xml(
    data: bytes | bytearray | memoryview,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> etree._Element:
    """Parse ``data`` into an lxml element tree and return its root element.

    Raises :class:`BpmnError` when the document is too large, contains a DOCTYPE,
    is not well-formed, or nests elements deeper than ``max_depth``.
    """
    if isinstance(data, str):
        raise TypeError("parse_xml expects the raw bytes of the document, not a str")
    raw = bytes(data)
    if len(raw) > max_bytes:
        raise BpmnError(
            f"document is too large: {len(raw)} bytes, the limit is {max_bytes} bytes"
        )
    if not raw.strip():
        raise BpmnError("document is empty")
    _refuse_doctype(raw)

    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
        remove_blank_text=False,
    )
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
        message = f"not well-formed XML: {exc.msg}"
        raise BpmnError(message, [error_entry(None, message, line)]) from None
    except (ValueError, LookupError) as exc:
        # e.g. an unknown encoding name in the XML declaration
        raise BpmnError(f"cannot read the document: {exc}") from None

    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise BpmnError("DOCTYPE is not allowed")
    _check_depth(root, max_depth)
    return root


def _refuse_doctype(raw: bytes) -> None:
    """Walk the prolog (XML declaration, comments, processing instructions) and refuse
    a document type declaration before the parser gets to expand anything in it."""
    text = _decode_prolog(raw)
    pos = 0
    length = len(text)
    if text.startswith("\ufeff"):
        pos = 1
    while pos < length:
        while pos < length and text[pos] in _WHITESPACE:
            pos += 1
        if text.startswith("<?", pos):
            end = text.find("?>", pos + 2)
            if end < 0:
                return  # unterminated: the parser will report it
            pos = end + 2
        elif text.startswith("<!--", pos):
            end = text.find("-->", pos + 4)
            if end < 0:
                return
            pos = end + 3
        elif text.startswith("<!", pos):
            if text[pos + 2 : pos + 9].upper() == "DOCTYPE":
                raise BpmnError("DOCTYPE is not allowed")
            raise BpmnError("markup declarations are not allowed before the root element")
        else:
            return


def _decode_prolog(raw: bytes) -> str:
    """Decode enough of the document to scan its prolog.

    UTF-16 and UTF-32 are recognised by their byte order mark or by the encoded form
    of ``<?``; everything else is ASCII-compatible for the characters that matter
    here, so it is read byte for byte as Latin-1.
    """
    for bom, codec in (
        (codecs.BOM_UTF8, "latin-1"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if raw.startswith(bom):
            return raw[len(bom) :].decode(codec, errors="replace")
    for marker, codec in (
        (b"<\x00\x00\x00", "utf-32-le"),
        (b"\x00\x00\x00<", "utf-32-be"),
        (b"<\x00", "utf-16-le"),
        (b"\x00<", "utf-16-be"),
    ):
        if raw.startswith(marker):
            return raw.decode(codec, errors="replace")
    return raw.decode("latin-1")


def _check_depth(root: etree._Element, max_depth: int) -> None:
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            message = f"elements are nested deeper than {max_depth} levels"
            raise BpmnError(message, [error_entry(None, message, element.sourceline)])
        stack.extend((child, depth + 1) for child in element)
