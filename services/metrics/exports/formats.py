"""Writers of the event log: XES (IEEE 1849-2016) and CSV, chunk by chunk.

XES: one trace per process instance (`concept:name` = the instance id), one
event per log entry with `concept:name` (the node's name, else its id),
`time:timestamp`, `lifecycle:transition` (the standard lifecycle model) and
`org:resource` when someone did it. CSV uses the same names as column headers,
with `case:concept:name` for the case, which is what pm4py and Celonis expect.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sqlalchemy import RowMapping

CHUNK_BYTES = 64 * 1024
# characters XML 1.0 does not allow, even escaped
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_EXTRA_ATTRIBUTES = ("outcome", "reason", "kind", "target_node_id", "due_at")

XES_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <global scope="trace">
    <string key="concept:name" value="__INVALID__"/>
  </global>
  <global scope="event">
    <string key="concept:name" value="__INVALID__"/>
    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
    <string key="lifecycle:transition" value="complete"/>
  </global>
  <classifier name="Activity" keys="concept:name"/>
  <classifier name="Activity and transition" keys="concept:name lifecycle:transition"/>
  <string key="lifecycle:model" value="standard"/>
"""

CSV_COLUMNS = (
    "case:concept:name",
    "concept:name",
    "activity_id",
    "lifecycle:transition",
    "time:timestamp",
    "org:resource",
    "event_type",
    "task_id",
    "definition_key",
    "definition_version",
    "business_key",
    "department",
    *_EXTRA_ATTRIBUTES,
)


async def xes(key: str, rows: AsyncIterator[RowMapping]) -> AsyncIterator[bytes]:
    parts: list[str] = [XES_HEAD, f'  <string key="concept:name" value={_attr(key)}/>\n']
    size, case = 0, None
    async for row in rows:
        if row["case_id"] != case:
            if case is not None:
                parts.append("  </trace>\n")
            case = row["case_id"]
            parts.append(_trace_head(row))
        parts.append(_event(row))
        size += len(parts[-1])
        if size >= CHUNK_BYTES:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    if case is not None:
        parts.append("  </trace>\n")
    parts.append("</log>\n")
    yield "".join(parts).encode("utf-8")


async def csv_log(rows: AsyncIterator[RowMapping]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    async for row in rows:
        attributes = row["attributes"] or {}
        writer.writerow(
            [
                str(row["case_id"]),
                row["activity_name"] or row["activity"],
                row["activity"],
                row["lifecycle"],
                _timestamp(row["occurred_at"]),
                row["resource"],
                row["event_type"],
                str(row["task_id"]) if row["task_id"] else None,
                row["definition_key"],
                row["definition_version"],
                row["business_key"],
                row["department"],
                *(_text(attributes.get(name)) for name in _EXTRA_ATTRIBUTES),
            ]
        )
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _trace_head(row: RowMapping) -> str:
    attributes = [
        f'    <string key="concept:name" value={_attr(str(row["case_id"]))}/>',
        f'    <int key="definition_version" value="{int(row["definition_version"])}"/>',
    ]
    for name in ("business_key", "department"):
        if row[name]:
            attributes.append(f'    <string key="{name}" value={_attr(row[name])}/>')
    return "  <trace>\n" + "\n".join(attributes) + "\n"


def _event(row: RowMapping) -> str:
    attributes = row["attributes"] or {}
    activity = row["activity_name"] or row["activity"]
    lines = [
        f'      <string key="concept:name" value={_attr(activity)}/>',
        f'      <string key="activity_id" value={_attr(row["activity"])}/>',
        f'      <string key="lifecycle:transition" value={_attr(row["lifecycle"])}/>',
        f'      <date key="time:timestamp" value="{_timestamp(row["occurred_at"])}"/>',
        f'      <string key="event_type" value={_attr(row["event_type"])}/>',
    ]
    if row["resource"]:
        lines.append(f'      <string key="org:resource" value={_attr(row["resource"])}/>')
    for name in _EXTRA_ATTRIBUTES:
        value = _text(attributes.get(name))
        if value:
            lines.append(f'      <string key="{name}" value={_attr(value)}/>')
    return "    <event>\n" + "\n".join(lines) + "\n    </event>\n"


def _attr(value: str) -> str:
    """A quoted XML attribute value."""
    clean = _NOT_XML.sub("\ufffd", value)
    escaped = (
        clean.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )
    return f'"{escaped}"'


def _timestamp(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+00:00"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Iterable):
        return ",".join(str(v) for v in value)
    return str(value)
