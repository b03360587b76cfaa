"""Stream and subject naming: one stream per producing service, plus a dead-letter stream."""

from __future__ import annotations

PRODUCERS = ("designer", "runtime", "notifier", "metrics")


def stream_name(namespace: str, service: str) -> str:
    return f"{namespace.upper()}_{service.upper()}"


def stream_subjects(namespace: str, service: str) -> list[str]:
    return [f"{namespace}.{service}.>"]


def dlq_stream_name(namespace: str) -> str:
    return f"{namespace.upper()}_DLQ"


def dlq_subject(namespace: str, consumer: str) -> str:
    return f"{namespace}.dlq.{consumer}"


#: how long each producer's events stay in its stream (seconds; 0 = for ever). The designer's
#: definitions and organisation events are few and are the runtime's and notifier's source of
#: truth, so a consumer created later (a new service, a rebuilt database) must see all of them.
RETENTION: dict[str, float] = {"designer": 0.0}
DEFAULT_RETENTION = 7 * 24 * 3600.0


def stream_retention(service: str) -> float:
    return RETENTION.get(service, DEFAULT_RETENTION)
