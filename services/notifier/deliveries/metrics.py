"""Prometheus metrics of deliveries (labels are channel kinds, never channel names)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERED = Counter(
    "bpm_notifications_delivered_total",
    "Delivery attempts by channel kind and outcome (sent, failed and retried later, dead)",
    ["channel", "status"],
)
DELIVERY_LATENCY = Histogram(
    "bpm_notification_delivery_seconds",
    "From a notification's delivery being queued to its message being accepted by the channel",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
)
