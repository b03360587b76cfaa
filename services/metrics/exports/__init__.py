"""Exports of the event log for process-mining tools (pm4py, ProM, Celonis): XES and CSV."""
