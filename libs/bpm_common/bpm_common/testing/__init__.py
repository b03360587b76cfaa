"""Test support: real PostgreSQL and NATS servers, per-run databases, API clients with tokens."""
