"""The runtime's copy of the organisation model (users, departments), built from designer events."""

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, text
from sqlalchemy.dialects.postgresql import ARRAY

from services.runtime.database import Base

org_users = Table(
    "org_users",
    Base.metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(200)),
    Column("department", String(100)),
    Column("roles", ARRAY(String(100)), nullable=False, server_default=text("'{}'")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    Column("sequence", Integer, nullable=False),
    Index("ix_org_users_roles", "roles", postgresql_using="gin"),
)

org_departments = Table(
    "org_departments",
    Base.metadata,
    Column("key", String(100), primary_key=True),
    Column("name", String(200)),
    Column("parent", String(100)),
    Column("manager", String(64)),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    Column("sequence", Integer, nullable=False),
)
