"""Business metrics for Prometheus: a cycle-time histogram and gauges read at scrape time."""
