"""Process analytics over the fact tables: summaries per process and version."""
