"""Running the platform: embedded PostgreSQL and NATS, the five service processes, demo seeding.

Used by `make run`, by the end-to-end tests and by `make bench`, so all three
start the platform the same way.
"""
