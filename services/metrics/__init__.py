"""The metrics service: process analytics from the runtime's events, and business metrics."""
