"""Rules for the names the organisation model and the definitions use."""

from __future__ import annotations

import re

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""Usernames, department keys and role names."""

NAME_RE = re.compile(NAME_PATTERN)

SYSTEM_ROLE = "system"
"""Reserved for service-to-service tokens; never given to a user."""
