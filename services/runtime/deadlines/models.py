"""Business calendars: the working time in which `bpm:timeLimit` is counted."""

from sqlalchemy import Column, Date, DateTime, String, Table, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.runtime.database import Base

DEFAULT_CALENDAR = "default"

calendars = Table(
    "calendars",
    Base.metadata,
    Column("name", String(100), primary_key=True),
    Column("timezone", String(64), nullable=False),
    # {"mon": [["09:00", "18:00"]], ..., "sun": []}: local wall-clock periods per weekday
    Column("working_hours", JSONB, nullable=False),
    Column("holidays", ARRAY(Date), nullable=False, server_default=text("'{}'")),
    # make-up working days (调休): weekend days worked, with Monday's working hours
    Column("extra_working_days", ARRAY(Date), nullable=False, server_default=text("'{}'")),
    # department keys (org copy) whose requests count in this calendar, sub-departments included
    Column("departments", ARRAY(String(100)), nullable=False, server_default=text("'{}'")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("updated_by", String(64)),
)
