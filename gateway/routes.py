"""Where each `/api/v1` path goes, and who may call it.

Two tables, read top to bottom:

- `BACKENDS`: the first path segment after `/api/v1/` names the owning service.
- `ROLE_RULES`: coarse role checks by method and path pattern; the first rule that
  matches decides. The services check the details themselves (the gateway is not
  the only line of defence); these rules only turn away calls that can never succeed.

Patterns: a literal path, or a path ending in `/**` which matches that path and
everything below it (`/api/v1/org/**` matches `/api/v1/org` and `/api/v1/org/users/7`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bpm_common.auth import ADMIN, DESIGNER

API_PREFIX = "/api/v1/"

DESIGNER_SERVICE, RUNTIME_SERVICE, NOTIFIER_SERVICE, METRICS_SERVICE = (
    "designer",
    "runtime",
    "notifier",
    "metrics",
)

#: first path segment below /api/v1 -> owning service
BACKENDS: dict[str, str] = {
    "definitions": DESIGNER_SERVICE,
    "org": DESIGNER_SERVICE,
    "templates": DESIGNER_SERVICE,
    "dictionaries": DESIGNER_SERVICE,
    "forms": DESIGNER_SERVICE,
    "suggestions": DESIGNER_SERVICE,
    "approval-trees": DESIGNER_SERVICE,
    "process-instances": RUNTIME_SERVICE,
    "tasks": RUNTIME_SERVICE,
    "messages": RUNTIME_SERVICE,
    "signals": RUNTIME_SERVICE,
    "jobs": RUNTIME_SERVICE,
    "incidents": RUNTIME_SERVICE,
    "external-tasks": RUNTIME_SERVICE,
    "migrations": RUNTIME_SERVICE,
    "calendars": RUNTIME_SERVICE,
    "copies": RUNTIME_SERVICE,
    "notifications": NOTIFIER_SERVICE,
    "channels": NOTIFIER_SERVICE,
    "notification-preferences": NOTIFIER_SERVICE,
    "deliveries": NOTIFIER_SERVICE,
    "analytics": METRICS_SERVICE,
    "reports": METRICS_SERVICE,
    "exports": METRICS_SERVICE,
}

SERVICES: tuple[str, ...] = (DESIGNER_SERVICE, RUNTIME_SERVICE, NOTIFIER_SERVICE, METRICS_SERVICE)

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ANY_METHOD: frozenset[str] | None = None
ANY_USER: frozenset[str] | None = None

DESIGNERS = frozenset({DESIGNER, ADMIN})
ADMINS = frozenset({ADMIN})
ANALYSTS = frozenset({ADMIN, DESIGNER, "analyst", "process_owner"})


@dataclass(frozen=True, slots=True)
class Rule:
    """Calls with one of `methods` (None: any method) to a path matching `pattern` need one
    of `roles` (None: any authenticated user)."""

    methods: frozenset[str] | None
    pattern: str
    roles: frozenset[str] | None
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", compile_pattern(self.pattern))

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return self._regex.fullmatch(path) is not None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A literal path, or `<prefix>/**` for the prefix and everything below it."""
    if pattern.endswith("/**"):
        return re.compile(re.escape(pattern[:-3]) + r"(?:/.*)?")
    return re.compile(re.escape(pattern))


#: reachable without a bearer token: the signed, single-use, expiring token in the path of an
#: approve/reject link from a chat message is the credential (the notifier checks it);
#: such calls are rate-limited per client address like every anonymous call
PUBLIC_RULES: tuple[Rule, ...] = (
    Rule(frozenset({"GET", "POST"}), "/api/v1/notifications/actions/**", ANY_USER),
)


def is_public(method: str, path: str) -> bool:
    return any(rule.matches(method, path) for rule in PUBLIC_RULES)


ROLE_RULES: tuple[Rule, ...] = (
    # lint is a POST that changes nothing; it has the same audience as the other designer writes
    Rule(frozenset({"POST"}), "/api/v1/definitions/lint", DESIGNERS),
    Rule(WRITES, "/api/v1/definitions/**", DESIGNERS),
    Rule(WRITES, "/api/v1/templates/**", DESIGNERS),
    # employees fill in forms: they upload attachments and check their input
    Rule(frozenset({"POST"}), "/api/v1/forms/attachments", ANY_USER),
    Rule(frozenset({"POST"}), "/api/v1/forms/validate", ANY_USER),
    Rule(WRITES, "/api/v1/forms/**", DESIGNERS),
    Rule(WRITES, "/api/v1/dictionaries/**", DESIGNERS),
    Rule(WRITES, "/api/v1/approval-trees/**", DESIGNERS),
    Rule(WRITES, "/api/v1/org/**", ADMINS),
    Rule(ANY_METHOD, "/api/v1/channels/**", ADMINS),
    Rule(ANY_METHOD, "/api/v1/analytics/**", ANALYSTS),
    Rule(ANY_METHOD, "/api/v1/reports/**", ANALYSTS),
    Rule(ANY_METHOD, "/api/v1/exports/**", ANALYSTS),
    Rule(ANY_METHOD, "/api/v1/migrations/**", ADMINS),
    Rule(ANY_METHOD, "/api/v1/incidents/**", ADMINS),
    Rule(ANY_METHOD, "/api/v1/deliveries/**", ADMINS),
    Rule(ANY_METHOD, "/api/v1/**", ANY_USER),
)


def backend_for(path: str) -> str | None:
    """The service owning an `/api/v1/...` path, or None when no service does."""
    if not path.startswith(API_PREFIX):
        return None
    segment = path[len(API_PREFIX) :].partition("/")[0]
    return BACKENDS.get(segment)


def route_label(path: str) -> str:
    """The bounded metrics label of a proxied path: its owning prefix."""
    segment = path[len(API_PREFIX) :].partition("/")[0]
    return f"{API_PREFIX}{segment}/**"


def _by_segment(rules: tuple[Rule, ...]) -> dict[str, tuple[Rule, ...]]:
    """The rules that can match below each `/api/v1/<segment>`, in table order."""
    index: dict[str, list[Rule]] = {segment: [] for segment in BACKENDS}
    for rule in rules:
        first = rule.pattern[len(API_PREFIX) :].partition("/")[0]
        for segment, bucket in index.items():
            if first in (segment, "**"):
                bucket.append(rule)
    return {segment: tuple(bucket) for segment, bucket in index.items()}


_RULES_BY_SEGMENT = _by_segment(ROLE_RULES)


def required_roles(method: str, path: str) -> frozenset[str] | None:
    """Roles of which the caller needs one (None: any authenticated user); first match wins."""
    segment = path[len(API_PREFIX) :].partition("/")[0]
    for rule in _RULES_BY_SEGMENT.get(segment, ROLE_RULES):
        if rule.matches(method, path):
            return rule.roles
    return ANY_USER


def is_allowed(method: str, path: str, roles: frozenset[str]) -> tuple[bool, frozenset[str] | None]:
    """Whether a caller holding `roles` passes the gateway's check, and the roles the rule wants."""
    wanted = required_roles(method, path)
    return (wanted is None or not wanted.isdisjoint(roles)), wanted
