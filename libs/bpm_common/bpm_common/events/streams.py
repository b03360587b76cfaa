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
