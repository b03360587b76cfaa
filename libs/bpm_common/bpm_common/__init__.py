"""What every service of the platform needs and nothing domain-specific.

Settings, database engine and unit of work, the event envelope, outbox and inbox,
the broker (NATS JetStream or in memory), authentication context, problem+json
errors, structured logging, Prometheus instrumentation and health checks.
"""
