"""The gateway's Prometheus series (HTTP latency per route comes from RequestContextMiddleware)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

UPSTREAM_LATENCY = Histogram(
    "bpm_gateway_upstream_duration_seconds",
    "Time until a backend answered with its status line and headers",
    ["backend", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RATE_LIMITED = Counter(
    "bpm_gateway_rate_limited_total",
    "Requests refused with 429",
    ["limit"],  # "user", "ip" or "login"
)
UNAUTHORIZED = Counter(
    "bpm_gateway_unauthorized_total",
    "Requests refused with 401",
    ["reason"],  # "missing_token", "invalid_token" or "bad_credentials"
)
FORBIDDEN = Counter(
    "bpm_gateway_forbidden_total",
    "Requests refused with 403 by a role rule",
    ["route"],
)
