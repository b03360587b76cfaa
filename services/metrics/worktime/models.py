"""The business calendar: one row per calendar (today only `default`)."""

from sqlalchemy import ARRAY, Column, Date, DateTime, Table, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB

from services.metrics.database import Base

DEFAULT_CALENDAR = "default"

business_calendars = Table(
    "business_calendars",
    Base.metadata,
    Column("name", Text, primary_key=True),
    Column("timezone", Text, nullable=False),
    Column(
        "working_hours",
        JSONB,
        nullable=False,
        comment='per weekday ("mon".."sun") a list of ["HH:MM", "HH:MM"] periods',
    ),
    Column("holidays", ARRAY(Date), nullable=False, server_default=text("'{}'")),
    Column("extra_working_days", ARRAY(Date), nullable=False, server_default=text("'{}'")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Text),
)
