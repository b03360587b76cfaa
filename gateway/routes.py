"""Where each `/api/v1` path goes, and who may call it.

Two tables, read top to bottom:

- `BACKENDS`: the first path segment after `/api/v1/` names the owning service.
- `ROLE_RULES`: coarse role checks by method and path pattern; the first rule that
  matches decides. The services check the details themselves (the gateway is not
  the only line of defence); these rules only turn away calls that can never succeed.

Patterns: a literal path, or a path ending in `/**` which matches that path and
everything below it (`/api/v1/org/**` matches `/api/v1/org` and `/api/v1/org/users/7`).

Both tables are worked out per prefix and method at import (`PREFIXES`), so that a call
costs a dictionary lookup or two, not a regex per rule.
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
    "admin": RUNTIME_SERVICE,  # administrators' interventions on instances and tasks
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

    def matches_path(self, path: str) -> bool:
        return self._regex.fullmatch(path) is not None

    def covers(self, segment: str) -> bool:
        """Whether the pattern matches every path below `/api/v1/<segment>` (no need to look)."""
        return self.pattern in (f"{API_PREFIX}**", f"{API_PREFIX}{segment}/**")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A literal path, or `<prefix>/**` for the prefix and everything below it.

    `**` spans any character, a decoded line break (`%0A`) included.
    """
    if pattern.endswith("/**"):
        return re.compile(re.escape(pattern[:-3]) + r"(?:/.*)?", re.DOTALL)
    return re.compile(re.escape(pattern))


#: reachable without a bearer token: the signed, single-use, expiring token in the path of an
#: approve/reject link from a chat message is the credential (the notifier checks it);
#: such calls are rate-limited per client address like every anonymous call
PUBLIC_RULES: tuple[Rule, ...] = (
    Rule(frozenset({"GET", "POST"}), "/api/v1/notifications/actions/**", ANY_USER),
)


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
    Rule(ANY_METHOD, "/api/v1/admin/**", ADMINS),
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


@dataclass(frozen=True, slots=True)
class Applicable:
    """The rules of one table that can apply to one method below one prefix, table order kept:
    `narrow` ones must be matched against the path; `covering`, the first rule that matches
    every path below the prefix, decides when none of them does."""

    narrow: tuple[Rule, ...]
    covering: Rule | None

    def first_match(self, path: str) -> Rule | None:
        for rule in self.narrow:
            if rule.matches_path(path):
                return rule
        return self.covering


@dataclass(frozen=True, slots=True)
class Prefix:
    """What the proxy needs to know about `/api/v1/<segment>`, worked out once at import.

    Per call the rule tables are a dictionary lookup by method; only rules narrower than
    the whole prefix (`/api/v1/definitions/lint`) still match the path with a regex.
    """

    segment: str
    service: str
    label: str  # the bounded metrics label of its paths
    public: dict[str, Applicable]  # PUBLIC_RULES by method ("": methods no rule names)
    roles: dict[str, Applicable]  # ROLE_RULES by method ("": methods no rule names)

    def is_public(self, method: str, path: str) -> bool:
        return (self.public.get(method) or self.public[""]).first_match(path) is not None

    def required_roles(self, method: str, path: str) -> frozenset[str] | None:
        """Roles of which the caller needs one (None: any authenticated user)."""
        rule = (self.roles.get(method) or self.roles[""]).first_match(path)
        return ANY_USER if rule is None else rule.roles


def _applicable(rules: tuple[Rule, ...], segment: str, method: str) -> Applicable:
    narrow: list[Rule] = []
    for rule in rules:
        if rule.methods is not None and method not in rule.methods:
            continue
        if rule.pattern[len(API_PREFIX) :].partition("/")[0] not in (segment, "**"):
            continue  # a rule for another prefix
        if rule.covers(segment):
            return Applicable(tuple(narrow), rule)
        narrow.append(rule)
    return Applicable(tuple(narrow), None)


def _prefix(segment: str, service: str) -> Prefix:
    methods = {""} | {m for rule in (*PUBLIC_RULES, *ROLE_RULES) for m in (rule.methods or ())}
    return Prefix(
        segment,
        service,
        f"{API_PREFIX}{segment}/**",
        {m: _applicable(PUBLIC_RULES, segment, m) for m in methods},
        {m: _applicable(ROLE_RULES, segment, m) for m in methods},
    )


#: first path segment below /api/v1 -> what the proxy needs to know about it
PREFIXES: dict[str, Prefix] = {segment: _prefix(segment, service) for segment, service in BACKENDS.items()}


def prefix_of(path: str) -> Prefix | None:
    """The proxied prefix an `/api/v1/...` path falls under, or None when no service owns it."""
    if not path.startswith(API_PREFIX):
        return None
    return PREFIXES.get(path[len(API_PREFIX) :].partition("/")[0])
