"""Safe XML parsing: no DTDs, no entities, no network, bounded size and depth."""

from __future__ import annotations

import time

import pytest

from bpm_process.bpmn import read_definitions
from bpm_process.errors import BpmnError
from bpm_process.xml import parse_xml

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" name="&lol9;">&lol9;</definitions>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE definitions [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <process id="p" name="&secret;"/>
</definitions>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE definitions SYSTEM "http://127.0.0.1:9/evil.dtd">
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>
"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>
"""


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY,
     b"\n  <!-- comment first -->\n<!DOCTYPE x>\n<definitions/>",
     BILLION_LAUGHS.decode().replace('<?xml version="1.0"?>', "").encode("utf-16"),
     b"\xef\xbb\xbf" + BILLION_LAUGHS],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity",
         "after-comment", "utf-16", "utf-8-bom"],
)
def test_any_doctype_is_refused_before_parsing(data):
    started = time.perf_counter()
    with pytest.raises(BpmnError) as caught:
        read_definitions(data)
    assert time.perf_counter() - started < 0.5
    assert caught.value.errors[0]["message"] == "DOCTYPE is not allowed"
    assert "root:" not in str(caught.value)  # nothing of /etc/passwd


def test_oversize_is_refused_before_parsing():
    data = b"<definitions xmlns='" + BPMN.encode() + b"'>" + b" " * 2000 + b"</definitions>"
    with pytest.raises(BpmnError, match="too large"):
        read_definitions(data, max_bytes=1000)
    with pytest.raises(BpmnError, match="too large"):
        parse_xml(b"<a/>" + b" " * (5 * 1024 * 1024))


def test_too_deep_nesting_is_refused():
    depth = 150
    data = (f"<definitions xmlns='{BPMN}'>" + "<x>" * depth + "</x>" * depth
            + "</definitions>").encode()
    with pytest.raises(BpmnError, match="nested deeper than 100"):
        read_definitions(data)
    read_definitions(data, max_depth=200)


def test_not_xml_is_refused_with_a_line_number():
    with pytest.raises(BpmnError) as caught:
        read_definitions(b"<definitions>\n<process>\n</definitions>")
    assert caught.value.errors[0]["line"] >= 2
    with pytest.raises(BpmnError, match="empty"):
        read_definitions(b"   ")
    with pytest.raises(BpmnError):
        read_definitions(b"this is not xml")
    with pytest.raises(TypeError):
        read_definitions("<definitions/>")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        b"<definitions/>",
        b"<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/DI'/>",
        b"<process xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'/>",
        b"<html><body>hello</body></html>",
    ],
)
def test_not_bpmn_is_refused(data):
    with pytest.raises(BpmnError, match="not a BPMN 2.0 document"):
        read_definitions(data)


def test_bpmn_error_is_a_value_error_with_structured_entries():
    with pytest.raises(ValueError) as caught:
        read_definitions(b"<x/>")
    error = caught.value
    assert isinstance(error, BpmnError)
    assert error.errors == [{"element_id": None, "message": error.errors[0]["message"]}]


def test_the_parser_itself_resolves_nothing_even_without_the_prolog_check(monkeypatch):
    """Second line of defence: with the DOCTYPE pre-check switched off, the parser still
    neither reads the external entity nor the DTD, and the document is still refused."""
    from bpm_process import xml

    monkeypatch.setattr(xml, "_refuse_doctype", lambda raw: None)
    in_content = EXTERNAL_ENTITY.replace(b'name="&secret;"/>', b">&secret;</process>")
    for data in (EXTERNAL_ENTITY, in_content, EXTERNAL_DTD, BILLION_LAUGHS):
        with pytest.raises(BpmnError) as caught:
            parse_xml(data)
        assert "root:" not in str(caught.value)
