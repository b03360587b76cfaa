"""The organisation model: departments, positions, users, their roles, and the role catalogue.

Departments and users are never removed from the table: a deletion sets
`deleted_at`, so the row keeps its event `sequence` and a later re-creation
continues it (consumers keep the event with the highest sequence per aggregate).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.designer.database import Base

LOCALES = ("en", "zh-CN")


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (Index("ix_departments_parent_key", "parent_key"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_key: Mapped[str | None] = mapped_column(ForeignKey("departments.key"))
    # a username; not a foreign key because users also point at departments
    manager: Mapped[str | None] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Position(Base):
    """A job title, optionally within a department (e.g. `finance-controller`)."""

    __tablename__ = "positions"
    __table_args__ = (Index("ix_positions_department_key", "department_key"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    department_key: Mapped[str | None] = mapped_column(ForeignKey("departments.key"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"locale IN {LOCALES!r}", name="locale"),
        Index("ix_users_department_key", "department_key"),
    )

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    department_key: Mapped[str | None] = mapped_column(ForeignKey("departments.key"))
    position_key: Mapped[str | None] = mapped_column(ForeignKey("positions.key"))
    locale: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # "scrypt$n=...,r=...,p=...$<salt>$<hash>"; NULL: the user cannot log in with a password
    password_hash: Mapped[str | None] = mapped_column(String(255))
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # tokens issued before this no longer speak for the user: set when the account is
    # deactivated or deleted, or its roles, department or password change (the gateway
    # refuses them, see services/designer/auth/service.py `revocations`)
    tokens_valid_after: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (Index("ix_user_roles_role", "role"),)

    username: Mapped[str] = mapped_column(
        ForeignKey("users.username", ondelete="CASCADE"), primary_key=True
    )
    # a role name: the built-in roles are not rows of `roles`, so no foreign key
    role: Mapped[str] = mapped_column(String(64), primary_key=True)


class Role(Base):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
