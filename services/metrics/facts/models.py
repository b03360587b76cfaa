"""The analytical tables, built from the runtime's and the designer's events.

- `instance_facts`: one row per process instance, its latest known state,
  department, result, satisfaction and cycle time (calendar and working).
- `task_facts`: one row per user task: when it was offered, first acted on
  (claimed, delegated, transferred, or decided) and ended, by whom, with which
  outcome and comment, its queue and work times (calendar and working), its
  deadline and whether it went overdue.
- `node_daily` and `reason_daily`: additive aggregates of ended tasks per
  process, version, trial flag, department, UTC day of the task's end and node,
  kept by the event handlers in the same transaction as the task row (see
  `contributions`). Rankings over any period read a few hundred of these rows
  instead of every task; a period's partial days are added from `task_facts`.
- `event_log`: append-only, one row per lifecycle event, in the shape process
  mining needs (case id, activity, timestamp, resource, lifecycle transition of
  the XES standard lifecycle model).
- `process_models`: the BPMN of every published version (for what-if analysis).

Free-form texts (keys, names, users, reasons) are `Text`: an event is never
refused because a value is longer than a guessed limit. In the aggregates an
unknown department is the empty string (key columns cannot be null).
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.metrics.database import Base

INSTANCE_STATES = ("running", "completed", "terminated", "withdrawn")
TASK_STATES = ("open", "completed", "cancelled", "returned")
LIFECYCLES = (
    "start",
    "complete",
    "pi_abort",
    "schedule",
    "assign",
    "reassign",
    "ate_abort",
    "withdraw",
)
REASON_KINDS = ("reject", "return")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _measure(name: str, kind: type[BigInteger] | type[Double] = BigInteger) -> Column:
    return Column(name, kind, nullable=False, server_default=text("0"))


instance_facts = Table(
    "instance_facts",
    Base.metadata,
    Column("instance_id", Uuid, primary_key=True),
    Column("definition_id", Uuid),
    Column("definition_key", Text, nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("business_key", Text),
    Column("initiator", Text),
    Column("department", Text, comment="the initiator's department when the instance started"),
    Column("trial", Boolean, nullable=False, server_default=text("false")),
    Column("state", String(16), nullable=False),
    Column("result", Text, comment="approved or rejected, once completed"),
    Column("satisfaction", Double, comment="the satisfaction score the process collected"),
    Column("started_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("cycle_seconds", Double, comment="ended_at - started_at, once the instance ended"),
    Column("cycle_working_seconds", Double, comment="the same in working time"),
    Column("ended_by", Text, comment="who terminated or withdrew the instance"),
    Column("end_reason", Text),
    Column("last_sequence", BigInteger, nullable=False, comment="newest event sequence applied"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_one_of("state", INSTANCE_STATES), name="state"),
    Index(
        "ix_instance_facts_process",
        "definition_key",
        "definition_version",
        "started_at",
        postgresql_include=["state", "trial", "cycle_seconds"],
    ),
    Index(
        "ix_instance_facts_ended",
        "definition_key",
        "definition_version",
        "ended_at",
        postgresql_where=text("ended_at IS NOT NULL"),
    ),
    Index(
        "ix_instance_facts_running",
        "definition_key",
        postgresql_include=["trial", "department"],
        postgresql_where=text("state = 'running'"),
    ),
    # the weekly report of every process: instances started / ended in a week
    Index("ix_instance_facts_started_at", "started_at"),
    Index("ix_instance_facts_ended_at", "ended_at", postgresql_where=text("ended_at IS NOT NULL")),
)

task_facts = Table(
    "task_facts",
    Base.metadata,
    Column("task_id", Uuid, primary_key=True),
    Column("instance_id", Uuid, nullable=False),
    Column("definition_key", Text, nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("node_id", Text, nullable=False),
    Column("name", Text),
    Column("trial", Boolean, nullable=False, server_default=text("false")),
    Column("department", Text, comment="the instance's department, copied for the aggregates"),
    Column("state", String(16), nullable=False),
    Column("assignee", Text, comment="'' when the task was explicitly left without assignee"),
    Column("candidate_users", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("candidate_roles", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("due_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), comment="offered"),
    Column(
        "first_action_at",
        DateTime(timezone=True),
        comment="first claim, delegation, transfer, decision or return",
    ),
    Column("ended_at", DateTime(timezone=True), comment="completed, returned or cancelled"),
    Column("overdue_at", DateTime(timezone=True), comment="when the runtime reported it overdue"),
    Column("actor", Text, comment="who completed or returned the task"),
    Column("outcome", Text, comment="approve or reject, for an approval"),
    Column("comment", Text, comment="the comment given with the decision"),
    Column("end_reason", Text, comment="why the task was returned or cancelled"),
    Column("returned_to", Text, comment="the node the task was returned to"),
    Column("duration_seconds", Double, comment="created_at to ended_at"),
    Column("duration_working_seconds", Double),
    Column("queue_seconds", Double, comment="created_at to first_action_at"),
    Column("queue_working_seconds", Double),
    Column("work_seconds", Double, comment="first_action_at to ended_at (completed or returned)"),
    Column("work_working_seconds", Double),
    Column("last_sequence", BigInteger, nullable=False, comment="newest event sequence applied"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_one_of("state", TASK_STATES), name="state"),
    Index(
        "ix_task_facts_process",
        "definition_key",
        "definition_version",
        "created_at",
        postgresql_include=["state", "trial", "duration_seconds"],
    ),
    Index("ix_task_facts_node", "definition_key", "definition_version", "node_id"),
    Index("ix_task_facts_instance_id", "instance_id"),
    Index(
        "ix_task_facts_open",
        "definition_key",
        "due_at",
        postgresql_include=["trial"],
        postgresql_where=text("state = 'open'"),
    ),
    # partial days of a period and the weekly report: tasks ended / due in a time range
    Index(
        "ix_task_facts_ended",
        "definition_key",
        "ended_at",
        postgresql_where=text("ended_at IS NOT NULL"),
    ),
    Index("ix_task_facts_ended_at", "ended_at", postgresql_where=text("ended_at IS NOT NULL")),
    Index("ix_task_facts_due_at", "due_at", postgresql_where=text("due_at IS NOT NULL")),
)

_AGGREGATE_KEY = ("definition_key", "definition_version", "trial", "department", "day", "node_id")

node_daily = Table(
    "node_daily",
    Base.metadata,
    Column("definition_key", Text, nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("trial", Boolean, nullable=False),
    Column("department", Text, nullable=False),
    Column("day", Date, nullable=False, comment="UTC date the tasks ended"),
    Column("node_id", Text, nullable=False),
    Column("name", Text),
    _measure("tasks"),
    _measure("completed"),
    _measure("decisions"),
    _measure("rejected"),
    _measure("returned"),
    _measure("duration_sum", Double),
    _measure("duration_working_sum", Double),
    _measure("queue_count"),
    _measure("queue_sum", Double),
    _measure("queue_working_sum", Double),
    _measure("work_count"),
    _measure("work_sum", Double),
    _measure("work_working_sum", Double),
    _measure("due_count"),
    _measure("on_time"),
    _measure("overdue"),
    PrimaryKeyConstraint(*_AGGREGATE_KEY, name="pk_node_daily"),
    Index("ix_node_daily_day", "definition_key", "day"),
)

reason_daily = Table(
    "reason_daily",
    Base.metadata,
    Column("definition_key", Text, nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("trial", Boolean, nullable=False),
    Column("department", Text, nullable=False),
    Column("day", Date, nullable=False, comment="UTC date the tasks ended"),
    Column("node_id", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", Text, nullable=False, comment="normalised; '' when none was given"),
    _measure("count"),
    CheckConstraint(_one_of("kind", REASON_KINDS), name="kind"),
    PrimaryKeyConstraint(*_AGGREGATE_KEY, "kind", "reason", name="pk_reason_daily"),
    Index("ix_reason_daily_day", "definition_key", "day"),
)

event_log = Table(
    "event_log",
    Base.metadata,
    Column("position", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("event_type", Text, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("case_id", Uuid, nullable=False, comment="the process instance"),
    Column("definition_key", Text, nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("trial", Boolean, nullable=False, server_default=text("false")),
    Column("task_id", Uuid),
    Column(
        "activity", Text, nullable=False, comment="node id of a task, the process key otherwise"
    ),
    Column("activity_name", Text),
    Column("lifecycle", String(16), nullable=False, comment="XES standard lifecycle transition"),
    Column("resource", Text, comment="the user who did it"),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("attributes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_one_of("lifecycle", LIFECYCLES), name="lifecycle"),
    # the same fact announced again under a new event id is not a second entry
    Index(
        "uq_event_log_fact",
        "case_id",
        "event_type",
        "task_id",
        "sequence",
        unique=True,
        postgresql_nulls_not_distinct=True,
    ),
    Index("ix_event_log_process", "definition_key", "definition_version", "occurred_at"),
    Index("ix_event_log_case", "case_id", "occurred_at"),
)

process_models = Table(
    "process_models",
    Base.metadata,
    Column("definition_key", Text, nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("definition_id", Uuid, nullable=False),
    Column("name", Text),
    Column("status", Text, nullable=False, comment="published or trial"),
    Column("bpmn", LargeBinary, nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Column("last_sequence", BigInteger, nullable=False),
    PrimaryKeyConstraint("definition_key", "definition_version", name="pk_process_models"),
)
