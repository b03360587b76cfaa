"""The runtime service: the process engine with persistence, tasks, history and events."""
