"""The analytical tables and the handlers that fill them from the runtime's events."""
