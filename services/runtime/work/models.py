"""Automated work: items handed to the HTTP connector or to external workers, and incidents.

A work item's id is the engine's work id. Items are taken with a lease
(`locked_until`): a worker or connector replica that dies mid-way simply lets the
lease run out, and the item is available again.
"""

from sqlalchemy import CheckConstraint, Column, DateTime, Index, Integer, String, Table, Text, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB

from services.runtime.database import Base

#: states of a work item
OPEN, LOCKED, COMPLETED, FAILED, INCIDENT, CANCELLED = "open", "locked", "completed", "failed", "incident", "cancelled"

work_items = Table(
    "work_items",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("instance_id", Uuid, nullable=False),
    Column("definition_key", String(255), nullable=False),
    Column("business_key", String(255)),
    Column("node_id", String(255), nullable=False),
    Column("node_name", String(500)),
    Column("kind", String(20), nullable=False),  # http | external
    Column("topic", String(255)),
    Column("request", JSONB),  # http: method, url, headers, body (headers may hold secrets: never shown)
    Column("variables", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),  # static task headers
    Column("state", String(20), nullable=False),  # open | locked | completed | failed | incident | cancelled
    Column("retries_left", Integer, nullable=False),
    Column("retry_backoff", String(50)),
    Column("timeout", String(50)),
    Column("priority", Integer, nullable=False, server_default=text("0")),
    Column("available_at", DateTime(timezone=True), nullable=False),
    Column("lock_owner", String(255)),
    #: the account (token subject) that fetched an external task: the `worker_id` a worker
    #: names is its own choice, the account is what authenticates its reports
    Column("locked_by", String(64)),
    Column("locked_until", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Index("ix_work_items_pick", "kind", "state", "available_at"),
    Index("ix_work_items_topic", "topic", "state"),
    Index("ix_work_items_instance", "instance_id"),
)

incidents = Table(
    "incidents",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    #: null for an incident of a process definition (a timer start that could not start
    #: an instance): then `definition_id` and `definition_version` name the version
    Column("instance_id", Uuid),
    Column("definition_id", Uuid),
    Column("definition_version", Integer),
    Column("work_id", Uuid, nullable=False),  # the work item, or the job (see job_kind)
    #: set for the incident of a job (`jobs.incidents`): the job's kind; its id is work_id
    Column("job_kind", String(50)),
    Column("definition_key", String(255), nullable=False),
    Column("node_id", String(255), nullable=False),
    Column("node_name", String(500)),
    Column("message", Text),
    Column("state", String(20), nullable=False),  # open | resolved
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", String(64)),
    Column("resolution", Text),  # the reason given with the retry
    Index("ix_incidents_state", "state", "created_at"),
    Index("ix_incidents_instance", "instance_id"),
    Index("ix_incidents_work", "work_id", "state"),
    CheckConstraint("instance_id IS NOT NULL OR definition_id IS NOT NULL", name="ck_incidents_owner"),
)
