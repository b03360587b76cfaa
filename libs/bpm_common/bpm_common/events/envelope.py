"""The CloudEvents 1.0 envelope (JSON format) every event travels in.

`type` is always `bpm.<service>.<aggregate>.<event>`; the NATS subject is the
same with the first token replaced by the configured event namespace (`bpm` by
default). `subject` names the aggregate (an instance id, a definition id, a
username) and `sequence` counts that aggregate's events, so consumers can put
late or repeated events in order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bpm_common import jsonutil
from bpm_common.ids import new_id
from bpm_common.logging import correlation_id as _correlation_id

SPEC_VERSION = "1.0"


@dataclass(slots=True)
class Event:
    type: str
    source: str
    subject: str
    data: dict[str, Any]
    sequence: int = 0
    id: str = field(default_factory=new_id)
    time: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    correlationid: str | None = None
    traceparent: str | None = None

    @property
    def service(self) -> str:
        return self.type.split(".")[1]

    def nats_subject(self, namespace: str) -> str:
        return namespace + self.type[self.type.index(".") :]

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": jsonutil.isoformat(self.time),
            "subject": self.subject,
            "datacontenttype": "application/json",
            "sequence": self.sequence,
            "data": self.data,
        }
        if self.correlationid:
            body["correlationid"] = self.correlationid
        if self.traceparent:
            body["traceparent"] = self.traceparent
        return body

    def to_json(self) -> str:
        return jsonutil.dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        """Parse an envelope; raises ValueError when it is not a valid event of ours."""
        try:
            body = jsonutil.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"event is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ValueError("event is not a JSON object")
        missing = [k for k in ("id", "source", "type", "time", "subject", "data") if k not in body]
        if missing:
            raise ValueError(f"event misses {', '.join(missing)}")
        if body.get("specversion") != SPEC_VERSION:
            raise ValueError("unsupported CloudEvents specversion")
        if not isinstance(body["data"], dict):
            raise ValueError("event data is not an object")
        try:
            time = dt.datetime.fromisoformat(str(body["time"]).replace("Z", "+00:00"))
            sequence = int(body.get("sequence") or 0)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"event has an invalid field: {exc}") from exc
        return cls(
            id=str(body["id"]),
            source=str(body["source"]),
            type=str(body["type"]),
            time=time,
            subject=str(body["subject"]),
            data=body["data"],
            sequence=sequence,
            correlationid=body.get("correlationid"),
            traceparent=body.get("traceparent"),
        )


def new_event(
    type: str,
    subject: str,
    data: dict[str, Any],
    *,
    source: str,
    sequence: int = 0,
    time: dt.datetime | None = None,
    traceparent: str | None = None,
) -> Event:
    """An event stamped with the current correlation id."""
    return Event(
        type=type,
        source=source,
        subject=subject,
        data=data,
        sequence=sequence,
        time=time or dt.datetime.now(dt.UTC),
        correlationid=_correlation_id.get(),
        traceparent=traceparent,
    )
